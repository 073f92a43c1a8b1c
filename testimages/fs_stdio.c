/* The C library's streams over real files: fopen, fprintf, fgets, fread,
 * fwrite, fseek, ftell, append and update modes, remove. */
#include <aurora.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
	FILE *f = fopen("/tmp/notes.txt", "w");
	if (!f) {
		perror("fopen");
		return 1;
	}
	for (int i = 1; i <= 5; i++)
		fprintf(f, "line %d: %s\n", i, i % 2 ? "odd" : "even");
	printf("ftell after writing: %ld\n", ftell(f));
	printf("fclose: %d\n", fclose(f));

	f = fopen("/tmp/notes.txt", "r");
	char line[64];
	while (fgets(line, sizeof line, f))
		printf("read: %s", line);
	printf("feof %d ferror %d\n", feof(f) != 0, ferror(f) != 0);
	fseek(f, -12, SEEK_END);
	printf("ftell after fseek(-12, SEEK_END): %ld\n", ftell(f));
	fgets(line, sizeof line, f);
	printf("last line again: %s", line);
	rewind(f);
	printf("first char after rewind: %c\n", fgetc(f));
	printf("ftell after one fgetc: %ld\n", ftell(f));
	fclose(f);

	/* Append mode writes at the end, whatever the position. */
	f = fopen("/tmp/notes.txt", "a");
	fputs("appended\n", f);
	fclose(f);

	/* Update mode: read, then overwrite in place, then read on. */
	f = fopen("/tmp/notes.txt", "r+");
	fgets(line, sizeof line, f);
	printf("r+ read: %s", line);
	fseek(f, 0, SEEK_CUR);
	fputs("LINE 2", f);
	fseek(f, 0, SEEK_CUR);
	fgets(line, sizeof line, f);
	printf("r+ rest of line 2: %s", line);
	fclose(f);

	/* Binary data with fread/fwrite. */
	unsigned int data[1000], back[1000];
	for (int i = 0; i < 1000; i++)
		data[i] = i * 2654435761u;
	f = fopen("/tmp/data.bin", "w+");
	printf("fwrite: %zu\n", fwrite(data, sizeof data[0], 1000, f));
	fseek(f, 0, SEEK_SET);
	printf("fread: %zu\n", fread(back, sizeof back[0], 1000, f));
	printf("identical: %s\n", memcmp(data, back, sizeof data) ? "no" : "yes");
	size_t r = fread(back, 1, 1, f);
	printf("fread at end: %zu, feof %d\n", r, feof(f) != 0);
	fclose(f);
	struct stat st;
	stat_syscall("/tmp/data.bin", &st);
	printf("size on the file system: %ld\n", (long)st.st_size);

	f = fopen("/tmp/notes.txt", "r");
	while (fgets(line, sizeof line, f))
		printf("final: %s", line);
	fclose(f);

	/* Failures keep the kernel's errno. */
	errno = 0;
	f = fopen("/tmp/none/x", "r");
	printf("fopen missing: %p %s\n", (void *)f, strerror(errno));
	f = fopen("/tmp", "w");
	printf("fopen a directory for writing: %p %s\n", (void *)f, strerror(errno));
	f = fopen("/tmp/notes.txt", "q");
	printf("fopen bad mode: %p %s\n", (void *)f, strerror(errno));
	int rc = fseek(stdout, 0, SEEK_SET);
	printf("fseek on stdout: %d %s\n", rc, strerror(errno));
	printf("remove: %d\n", remove("/tmp/notes.txt"));
	rc = remove("/tmp/notes.txt");
	printf("remove again: %d %s\n", rc, strerror(errno));
	return 0;
}
