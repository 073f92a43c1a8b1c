/* The printf conversions and flags programs use every day, including
 * floating point (which needs SSE enabled in the guest). */
#include <stdio.h>
#include <string.h>
#include <stdint.h>

/* Truncation by snprintf is tested on purpose below. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

int main(void)
{
	printf("[%d] [%i] [%u] [%x] [%X] [%o] [%c] [%s] [%%]\n", -42, 42, 3000000000u, 0xbeef, 0xBEEF, 8, 'A', "str");
	printf("[%5d] [%-5d] [%05d] [%+d] [% d]\n", 42, 42, 42, 42, 42);
	printf("[%.3d] [%8.3d] [%-8.3d|]\n", 7, 7, 7);
	printf("[%10s] [%-10s] [%.2s]\n", "right", "left", "truncate");
	printf("[%#x] [%#o] [%#X]\n", 255, 8, 255);
	printf("[%ld] [%lld] [%lu] [%zu] [%hhd] [%hd]\n", -1234567890123L, -9223372036854775807LL - 1,
	       18446744073709551615UL, sizeof(long), (char)300, (short)70000);
	printf("[%p] [%p]\n", (void *)0x401000, (void *)0);
	printf("[%*d] [%-*d] [%.*s]\n", 6, 1, 6, 2, 3, "abcdef");
	printf("[%f] [%.2f] [%10.3f] [%-10.1f|] [%e] [%g] [%g]\n", 3.14159, 2.718281828, -1.5, 0.25, 12345.678, 0.0001, 1e20);
	double x = 1.0;
	for (int i = 0; i < 10; i++)
		x = x * 1.5 + 0.25;
	printf("computed %.6f\n", x);
	char buf[16];
	int n = snprintf(buf, sizeof buf, "%s-%d", "truncated output", 12345);
	printf("snprintf returned %d, kept \"%s\" (%zu bytes)\n", n, buf, strlen(buf));
	sprintf(buf, "%04x", 0xab);
	puts(buf);
	putchar('o');
	putchar('k');
	putchar('\n');
	fprintf(stdout, "fprintf to stdout %d\n", 1);
	return 0;
}
