/* SPDX-License-Identifier: Apache-2.0 */
/* eh_assert.h - assertions for programmer errors only (NULL arguments,
 * broken invariants). External input is never asserted on. */
#ifndef EH_ASSERT_H
#define EH_ASSERT_H

void eh_assert_fail(const char *expr, const char *file, int line) __attribute__((noreturn));

#define EH_ASSERT(x) ((x) ? (void)0 : eh_assert_fail(#x, __FILE__, __LINE__))

#endif /* EH_ASSERT_H */
