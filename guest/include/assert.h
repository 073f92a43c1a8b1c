/* assert(): on failure prints "file:line: function: Assertion `expr' failed."
 * on stderr and aborts. Like the standard header, it may be included again
 * after changing NDEBUG. */
#undef assert

#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#ifndef _ASSERT_H
#define _ASSERT_H
__attribute__((noreturn)) void __assert_fail(const char *expr, const char *file, int line, const char *func);
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__cplusplus)
#define static_assert _Static_assert
#endif
#endif
