/* fork_bomb.c under `aurora-vm run --max-procs 8` (fork_bomb_limit.flags):
 * process 1 and 7 children fill the process table. */
#include "fork_bomb.c"
