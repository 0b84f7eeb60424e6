/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Convergence under crashes, with the real programs: while the desktop
 * mirrors a phone that makes live traffic, either side is killed (SIGKILL)
 * at seeded random moments and started again; once the traffic stops, the
 * desktop's export equals the phone's.
 * COMPANION_TEST_SEED picks the seed (default 1), COMPANION_TEST_KILLS the
 * number of kills (default 20). */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-loop.h"
#include "test-process.h"

static char *system_data_dirs;

static TestProcess *
start_desktop (const char *desk)
{
  return test_process_start (test_process_program ("COMPANION_CLI"), "run", "--json", "--state-dir", desk,
                             "--listen", "127.0.0.1:0", NULL);
}

/* With SEED, the phone also makes live traffic (40 events a second). */
static TestProcess *
start_phone (const char *phone_state,
             guint       seed)
{
  g_autofree char *seed_text = g_strdup_printf ("%u", seed);

  if (seed == 0)
    return test_process_start (test_process_program ("COMPANION_PHONE"), "run", "--json", "--state-dir", phone_state, NULL);
  return test_process_start (test_process_program ("COMPANION_PHONE"), "run", "--json", "--state-dir", phone_state,
                             "--events", "40", "--seed", seed_text, NULL);
}

static void
test_kill_and_resume (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-converge-XXXXXX", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autoptr(GRand) rand = NULL;
  g_autoptr(JsonObject) event = NULL;
  g_autofree char *desk_export = NULL;
  g_autofree char *phone_export = NULL;
  const char *seed_text = g_getenv ("COMPANION_TEST_SEED");
  const char *kills_text = g_getenv ("COMPANION_TEST_KILLS");
  guint32 seed = seed_text != NULL ? (guint32) atoi (seed_text) : 1;
  guint kills = kills_text != NULL ? (guint) atoi (kills_text) : 20;
  guint desktop_kills = 0, phone_kills = 0;
  gint64 last_seq;
  TestProcess *desktop, *phone;

  g_test_message ("seed %u, %u kills", seed, kills);
  rand = g_rand_new_with_seed (seed);
  test_process_isolated_env (g_get_user_data_dir (), system_data_dirs);

  /* Pair, with enough history that a kill lands in the middle of the sync. */
  desktop = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                                "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  event = test_process_wait_event (desktop, "qr");
  phone = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state,
                              "--generate", test_process_sanitized ()
                                ? "chats=60,messages=2000,media=20,calls=200,seed=3"
                                : "chats=60,messages=20000,media=20,calls=200,seed=3",
                              "--events", "40", "--seed", "1", NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (phone, "generated");
  last_seq = json_object_get_int_member (event, "last_seq");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (desktop, "paired");

  for (guint i = 0; i < kills; i++)
    {
      gboolean kill_desktop = g_rand_boolean (rand);
      /* Across a whole sync: a sanitized one takes longer. */
      guint delay = (guint) g_rand_int_range (rand, 0, test_process_sanitized () ? 1500 : 400);

      test_loop_spin (delay);
      if (kill_desktop)
        {
          test_process_kill (desktop);
          desktop = start_desktop (desk);
          desktop_kills++;
        }
      else
        {
          test_process_kill (phone);
          phone = start_phone (phone_state, i + 2);
          phone_kills++;
        }
      g_test_message ("kill %u: the %s after %u ms", i + 1, kill_desktop ? "desktop" : "phone", delay);
    }

  /* Now the traffic stops and the desktop catches up with the phone. */
  test_process_send (phone, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  phone = start_phone (phone_state, 0);
  do
    {
      g_clear_pointer (&event, json_object_unref);
      event = test_process_wait_event (desktop, "synced");
    }
  while (!json_object_get_boolean_member (event, "up_to_date"));
  g_test_message ("caught up at change %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " generated)",
                  json_object_get_int_member (event, "cursor"), last_seq);
  g_assert_cmpint (json_object_get_int_member (event, "cursor"), >, last_seq);
  test_process_send (phone, "{\"type\": \"quit\"}");
  test_process_send (desktop, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  g_assert_cmpint (test_process_finish (desktop), ==, 0);

  desk_export = test_process_export (test_process_program ("COMPANION_CLI"), desk);
  phone_export = test_process_export (test_process_program ("COMPANION_PHONE"), phone_state);
  g_test_message ("%u desktop kills, %u phone kills; exports of %zu bytes", desktop_kills, phone_kills,
                  strlen (desk_export));
  g_assert_cmpuint (strlen (desk_export), >, 100000);
  g_assert_true (g_str_equal (desk_export, phone_export));
}

int
main (int   argc,
      char *argv[])
{
  system_data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") != NULL ? g_getenv ("XDG_DATA_DIRS")
                                                                   : "/usr/local/share:/usr/share");
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/convergence/kill-and-resume", test_kill_and_resume);

  return g_test_run ();
}
