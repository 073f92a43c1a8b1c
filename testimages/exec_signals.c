/* execve resets caught signals to their default action, keeps ignored ones
 * ignored, and keeps the syscall filter. */
#include <aurora.h>
#include <stdio.h>

static void on_usr1(int sig) { (void)sig; }

int main(void)
{
	signal_syscall(SIGUSR1, on_usr1);
	signal_syscall(SIGTERM, SIG_IGN);
	int pid = fork_syscall();
	if (pid == 0) {
		uint8_t filter[32] = {0};
		filter[SYS_GETPPID / 8] |= 1 << (SYS_GETPPID % 8);
		setfilter_syscall(filter);
		char *argv[] = {"exec_child", "signals", 0};
		execve_syscall("/bin/exec_child.elf", argv, 0);
		exit_syscall(1);
	}
	int status;
	waitpid_syscall(pid, &status);
	printf("child ended with status %d (128 + SIGUSR1 is %d)\n", status, 128 + SIGUSR1);
	return 0;
}
