/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "test-loop.h"

gint64
test_loop_wait_us (void)
{
  return (g_getenv ("COMPANION_TEST_SANITIZED") != NULL ? 120 : 30) * G_USEC_PER_SEC;
}

gboolean
test_loop_keep_awake (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

void
test_loop_spin (guint ms)
{
  gint64 until = g_get_monotonic_time () + (gint64) ms * 1000;
  guint tick = g_timeout_add (10, test_loop_keep_awake, NULL);

  while (g_get_monotonic_time () < until)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

void
test_loop_drain (void)
{
  test_loop_spin (50);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}
