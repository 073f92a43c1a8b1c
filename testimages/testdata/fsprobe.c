/* fsprobe OP:PATH...: carries out each file operation and prints one line
 * with its outcome, for the host-mount tests (golden/fs_test.go).
 * OPs: cat, write (create or truncate, then write a line), mkdir, unlink,
 * stat, ls. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *err(void)
{
	static char buf[16];
	switch (errno) {
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EEXIST: return "EEXIST";
	case ENOTDIR: return "ENOTDIR";
	case EISDIR: return "EISDIR";
	case EROFS: return "EROFS";
	case ELOOP: return "ELOOP";
	}
	snprintf(buf, sizeof buf, "errno %d", errno);
	return buf;
}

static void probe(const char *op, const char *path)
{
	char buf[512] __attribute__((aligned(8)));
	printf("%s %s -> ", op, path);
	if (!strcmp(op, "cat")) {
		int fd = open_syscall(path, O_RDONLY);
		long n = fd < 0 ? -1 : read_syscall(fd, buf, sizeof buf - 1);
		if (n < 0) {
			printf("%s\n", err());
			return;
		}
		buf[n] = 0;
		printf("%s", buf);
		if (n == 0 || buf[n - 1] != '\n')
			printf("\n");
		close_syscall(fd);
	} else if (!strcmp(op, "write")) {
		int fd = open_syscall(path, O_WRONLY | O_CREAT | O_TRUNC);
		if (fd < 0 || write_syscall(fd, "written by the guest\n", 21) != 21) {
			printf("%s\n", err());
			return;
		}
		close_syscall(fd);
		printf("ok\n");
	} else if (!strcmp(op, "mkdir") || !strcmp(op, "unlink")) {
		int r = op[0] == 'm' ? mkdir_syscall(path) : unlink_syscall(path);
		printf("%s\n", r < 0 ? err() : "ok");
	} else if (!strcmp(op, "stat")) {
		struct stat st;
		if (stat_syscall(path, &st) < 0) {
			printf("%s\n", err());
			return;
		}
		printf("%s size %ld\n", S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other",
		       S_ISDIR(st.st_mode) ? 0L : (long)st.st_size);
	} else if (!strcmp(op, "ls")) {
		int fd = open_syscall(path, O_RDONLY);
		if (fd < 0) {
			printf("%s\n", err());
			return;
		}
		long n;
		while ((n = getdents_syscall(fd, buf, sizeof buf)) > 0)
			for (long off = 0; off < n;) {
				struct aurora_dirent *d = (struct aurora_dirent *)(buf + off);
				printf("%s%s ", d->d_name, d->d_type == DT_DIR ? "/" : d->d_type == DT_LNK ? "@" : "");
				off += d->d_reclen;
			}
		printf("%s\n", n < 0 ? err() : "");
		close_syscall(fd);
	} else {
		printf("unknown operation\n");
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		char *colon = strchr(argv[i], ':');
		if (!colon) {
			printf("%s: want OP:PATH\n", argv[i]);
			return 2;
		}
		*colon = 0;
		probe(argv[i], colon + 1);
	}
	return 0;
}
