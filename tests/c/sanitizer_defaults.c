/* Linked into the sanitized test programs. Baked-in defaults apply wherever
 * the binary runs: under CTest, while gtest_discover_tests lists the tests,
 * and by hand.
 *
 * LeakSanitizer stays on, with one suppression: the library's cgo layer
 * allocates permanent C copies of the algorithm names (C.CString, never freed
 * by design because callers may keep the pointers), and the only pointers to
 * them live in the Go heap, which LSan does not scan. The stack of such an
 * allocation ends in cgo's _Cfunc__Cmalloc trampoline, so that frame names
 * it. Leaks in the tests and in the C++ binding are still reported. */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_suppressions(void);

const char *__asan_default_options(void) {
  return "detect_leaks=1:halt_on_error=1";
}
const char *__ubsan_default_options(void) {
  return "print_stacktrace=1:halt_on_error=1";
}
const char *__lsan_default_suppressions(void) {
  return "leak:_Cfunc__Cmalloc\n";
}
