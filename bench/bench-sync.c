/* SPDX-License-Identifier: GPL-3.0-or-later */
/* First sync with the real programs on loopback: from "paired" to the chat
 * list on the desktop (chats and their previews committed) and to the full
 * mirror, with the peak resident memory of both processes.
 * Usage: bench-sync SPEC [SPEC…], e.g. chats=5000,messages=1000000,… */
#include "config.h"

#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "test-process.h"

static int
measure (const char *cli,
         const char *phone,
         const char *root,
         const char *spec,
         guint       index)
{
  g_autofree char *dir = g_strdup_printf ("%s/run-%u", root, index);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_dir = g_build_filename (dir, "phone", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) generated = NULL;
  g_autoptr(JsonObject) paired = NULL;
  g_autoptr(JsonObject) synced = NULL;
  gint64 chat_list_us = 0, desk_rss, phone_rss, last_seq;
  TestProcess *desktop, *device;

  g_mkdir_with_parents (dir, 0700);
  desktop = test_process_start (cli, "pair", "--json", "--state-dir", desk, "--listen", "127.0.0.1:0",
                                "--qr-png", png, NULL);
  event = test_process_wait_event (desktop, "qr");
  device = test_process_start (phone, "scan", png, "--json", "--state-dir", phone_dir, "--generate", spec, NULL);
  generated = test_process_wait_event (device, "generated");
  last_seq = json_object_get_int_member (generated, "last_seq");
  paired = test_process_wait_event (desktop, "paired");

  /* The chat list is there once the first message page (the previews) is in. */
  for (;;)
    {
      g_clear_pointer (&event, json_object_unref);
      event = test_process_wait_event (desktop, "sync-progress");
      if (g_str_equal (json_object_get_string_member (event, "entity"), "message"))
        {
          chat_list_us = json_object_get_int_member (event, "monotonic_us");
          break;
        }
    }
  do
    {
      g_clear_pointer (&synced, json_object_unref);
      synced = test_process_wait_event (desktop, "synced");
    }
  while (json_object_get_int_member (synced, "cursor") < last_seq);

  desk_rss = test_process_peak_rss_kib (desktop);
  phone_rss = test_process_peak_rss_kib (device);
  printf ("| %-44s | %9.3f | %9.3f | %8.1f | %8.1f |\n", spec,
          (chat_list_us - json_object_get_int_member (paired, "monotonic_us")) / 1e6,
          (json_object_get_int_member (synced, "monotonic_us") -
           json_object_get_int_member (paired, "monotonic_us")) / 1e6,
          desk_rss / 1024.0, phone_rss / 1024.0);
  fflush (stdout);

  test_process_send (device, "{\"type\": \"quit\"}");
  test_process_send (desktop, "{\"type\": \"quit\"}");
  return test_process_finish (device) == 0 && test_process_finish (desktop) == 0 ? 0 : 1;
}

int
main (int   argc,
      char *argv[])
{
  const char *cli = g_getenv ("COMPANION_CLI");
  const char *phone = g_getenv ("COMPANION_PHONE");
  g_autofree char *root = g_dir_make_tmp ("companion-bench-sync-XXXXXX", NULL);
  int status = 0;

  if (cli == NULL || phone == NULL || argc < 2)
    {
      fprintf (stderr, "Usage: bench-sync SPEC [SPEC…] with COMPANION_CLI and COMPANION_PHONE set\n");
      return 2;
    }
  /* Generating a million messages alone takes longer than a test waits. */
  g_setenv ("COMPANION_TEST_TIMEOUT", "600", FALSE);
  test_process_isolated_env (root, g_getenv ("XDG_DATA_DIRS") ? g_getenv ("XDG_DATA_DIRS")
                                                               : "/usr/local/share:/usr/share");

  printf ("First sync on loopback (real companion-cli and companion-phone processes)\n\n");
  printf ("| %-44s | %9s | %9s | %8s | %8s |\n", "phone data", "chat list", "full sync",
          "desk MiB", "phone MiB");
  printf ("|----------------------------------------------|-----------|-----------|----------|----------|\n");
  for (int i = 1; i < argc && status == 0; i++)
    status = measure (cli, phone, root, argv[i], (guint) i);
  printf ("\nTimes in seconds from \"paired\"; MiB are peak resident memory (VmHWM).\n");
  return status;
}
