/* A small pipeline, as a shell builds `hello | upper`: two children joined
 * by a pipe, each execs a program from a mounted host directory. */
#include <aurora.h>
#include <stdio.h>

static int spawn(const char *path, char *const argv[], int fd, int target, int other)
{
	int pid = fork_syscall();
	if (pid == 0) {
		dup2_syscall(fd, target);
		close_syscall(fd);
		close_syscall(other);
		execve_syscall(path, argv, 0);
		printf("execve %s failed\n", path);
		exit_syscall(127);
	}
	return pid;
}

int main(void)
{
	int p[2];
	if (pipe_syscall(p) != 0) {
		printf("pipe failed\n");
		return 1;
	}
	char *hello[] = {"hello", 0};
	char *upper[] = {"exec_child", "upper", 0};
	int writer = spawn("/bin/hello.elf", hello, p[1], 1, p[0]);
	int reader = spawn("/bin/exec_child.elf", upper, p[0], 0, p[1]);
	close_syscall(p[0]);
	close_syscall(p[1]);
	/* The reader ends after it has printed everything, so waiting for
	 * it first keeps the output in one order. */
	int status;
	waitpid_syscall(reader, &status);
	printf("upper exited with %d\n", status);
	waitpid_syscall(writer, &status);
	printf("hello exited with %d\n", status);
	return 0;
}
