/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench-report.h"
#include "bench-session.h"
#include "test-util.h"

BenchSession *
bench_session_new (const char *name)
{
  BenchSession *self = g_new0 (BenchSession, 1);
  g_autofree char *template = g_strdup_printf ("companion-%s-XXXXXX", name);
  const char *data_dirs = g_getenv ("XDG_DATA_DIRS");

  if (g_getenv ("COMPANION_CLI") == NULL || g_getenv ("COMPANION_PHONE") == NULL)
    {
      fprintf (stderr, "Set COMPANION_CLI and COMPANION_PHONE to the programs to measure\n");
      exit (2);
    }
  self->root = g_dir_make_tmp (template, NULL);
  if (self->root == NULL)
    g_error ("Cannot make a temporary folder");
  self->desktop_dir = g_build_filename (self->root, "desktop", NULL);
  self->phone_dir = g_build_filename (self->root, "phone", NULL);
  test_process_isolated_env (self->root, data_dirs != NULL ? data_dirs : "/usr/local/share:/usr/share");
  bench_program_env ();
  return self;
}

static void
wait_up_to_date (TestProcess *desktop)
{
  for (;;)
    {
      g_autoptr(JsonObject) synced = test_process_wait_event (desktop, "synced");

      if (json_object_get_boolean_member_with_default (synced, "up_to_date", FALSE))
        return;
    }
}

void
bench_session_pair (BenchSession *self,
                    const char   *data_option,
                    const char   *data)
{
  g_autofree char *png = g_build_filename (self->root, "qr.png", NULL);
  g_autoptr(JsonObject) qr = NULL, paired = NULL;
  TestProcess *desktop, *phone;

  desktop = test_process_start (g_getenv ("COMPANION_CLI"), "pair", "--json", "--state-dir", self->desktop_dir,
                                "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  qr = test_process_wait_event (desktop, "qr");
  phone = test_process_start (g_getenv ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", self->phone_dir,
                              data_option, data, NULL);
  paired = test_process_wait_event (desktop, "paired");
  wait_up_to_date (desktop);
  test_process_send (phone, "{\"type\": \"quit\"}");
  test_process_send (desktop, "{\"type\": \"quit\"}");
  if (test_process_finish (phone) != 0 || test_process_finish (desktop) != 0)
    g_error ("Pairing for the benchmark failed");
}

void
bench_session_start (BenchSession *self,
                     ...)
{
  const char *extra[4] = { NULL };
  g_autoptr(JsonObject) listening = NULL, phone_connected = NULL, desktop_connected = NULL;
  va_list args;

  va_start (args, self);
  for (guint i = 0; i < G_N_ELEMENTS (extra); i++)
    if ((extra[i] = va_arg (args, const char *)) == NULL)
      break;
  va_end (args);

  /* The desktop listens on last time's port, where the phone looks. */
  self->desktop = test_process_start (g_getenv ("COMPANION_CLI"), "run", "--json", "--state-dir", self->desktop_dir,
                                      "--listen", "127.0.0.1:0", NULL);
  listening = test_process_wait_event (self->desktop, "listening");
  /* Unused extras are NULL: the argument list ends at the first. */
  self->phone = test_process_start (g_getenv ("COMPANION_PHONE"), "run", "--json", "--state-dir", self->phone_dir,
                                    extra[0], extra[1], extra[2], extra[3], NULL);
  phone_connected = test_process_wait_event (self->phone, "connected");
  desktop_connected = test_process_wait_event (self->desktop, "connected");
}

gboolean
bench_session_stop (BenchSession *self)
{
  int phone_status, desktop_status;

  test_process_send (self->phone, "{\"type\": \"quit\"}");
  test_process_drain (self->phone);
  g_free (self->phone_output);
  self->phone_output = g_strdup (test_process_get_output (self->phone));
  phone_status = test_process_finish (self->phone);
  test_process_send (self->desktop, "{\"type\": \"quit\"}");
  test_process_drain (self->desktop);
  g_free (self->desktop_output);
  self->desktop_output = g_strdup (test_process_get_output (self->desktop));
  desktop_status = test_process_finish (self->desktop);
  self->phone = self->desktop = NULL;
  return phone_status == 0 && desktop_status == 0;
}

void
bench_session_free (BenchSession *self)
{
  test_util_remove_tree (self->root);
  g_free (self->root);
  g_free (self->desktop_dir);
  g_free (self->phone_dir);
  g_free (self->desktop_output);
  g_free (self->phone_output);
  g_free (self);
}
