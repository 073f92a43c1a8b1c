/* execve: what fails leaves the caller running with -1 and errno; what
 * works replaces the program but keeps the pid, the parent and open files. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void try(const char *what, const char *path, char *const *argv)
{
	errno = 0;
	int r = execve_syscall(path, argv, 0);
	printf("%s: %d %s\n", what, r, strerror(errno));
}

int main(void)
{
	char *args[] = {"exec_child", 0};
	try("missing file", "/bin/nothing.elf", args);
	try("a directory", "/bin", args);
	try("not an ELF", "/data/hello.txt", args);
	try("bad path pointer", (const char *)8, args);
	try("bad argv pointer", "/bin/exec_child.elf", (char *const *)8);
	char *bad_entry[] = {"x", (char *)16, 0};
	try("bad argv string", "/bin/exec_child.elf", bad_entry);
	printf("still running as pid %d\n", getpid_syscall());

	/* A child execs with arguments and an environment. */
	int pid = fork_syscall();
	if (pid == 0) {
		printf("forked: pid %d\n", getpid_syscall());
		fflush(stdout);
		char *argv[] = {"exec_child", "args", "two words", 0};
		char *envp[] = {"HOME=/tmp", "LANG=C", 0};
		execve_syscall("/bin/exec_child.elf", argv, envp);
		printf("execve failed\n");
		exit_syscall(1);
	}
	int status;
	waitpid_syscall(pid, &status);
	printf("child exited with %d\n", status);

	/* Open files survive, offset and all. */
	int fd = open_syscall("/tmp/note", O_CREAT | O_RDWR);
	write_syscall(fd, "skip:kept across execve\n", 24);
	lseek_syscall(fd, 5, SEEK_SET);
	pid = fork_syscall();
	if (pid == 0) {
		if (fd != 3)
			dup2_syscall(fd, 3);
		char *argv[] = {"exec_child", "fds", 0};
		execve_syscall("/bin/exec_child.elf", argv, 0);
		exit_syscall(1);
	}
	waitpid_syscall(pid, &status);
	printf("child exited with %d\n", status);

	/* An empty argv still gives the program its path as argv[0]. */
	pid = fork_syscall();
	if (pid == 0) {
		char *argv[] = {0};
		execve_syscall("/bin/exec_child.elf", argv, 0);
		exit_syscall(1);
	}
	waitpid_syscall(pid, &status);
	printf("child exited with %d\n", status);
	return 0;
}
