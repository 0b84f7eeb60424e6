/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Driving the default main context in tests, always with a deadline so a
 * broken case fails instead of hanging. */

/* How long WAIT_FOR waits: longer in the sanitizer build. */
gint64   test_loop_wait_us   (void);
/* A timeout source that keeps g_main_context_iteration() waking up. */
gboolean test_loop_keep_awake (gpointer user_data);
/* Runs the main context for MS milliseconds. */
void     test_loop_spin      (guint    ms);
/* Lets closes and frees that are already queued run. */
void     test_loop_drain     (void);

/* Iterates the default main context until COND holds; fails the test at
 * the deadline. A short tick re-checks COND even when nothing else wakes. */
#define WAIT_FOR(cond)                                                               \
  G_STMT_START                                                                       \
  {                                                                                  \
    gint64 wait_deadline_ = g_get_monotonic_time () + test_loop_wait_us ();          \
    guint wait_tick_ = g_timeout_add (10, test_loop_keep_awake, NULL);               \
    while (!(cond) && g_get_monotonic_time () < wait_deadline_)                      \
      g_main_context_iteration (NULL, TRUE);                                         \
    g_source_remove (wait_tick_);                                                    \
    if (!(cond))                                                                     \
      g_test_message ("%s:%d: timed out waiting for %s", __FILE__, __LINE__, #cond); \
    g_assert_true (cond);                                                            \
  }                                                                                  \
  G_STMT_END

G_END_DECLS
