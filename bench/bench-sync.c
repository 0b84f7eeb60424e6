/* SPDX-License-Identifier: GPL-3.0-or-later */
/* First sync with the real programs on loopback, against a raw SQLite bulk
 * load of the same rows into the same schema (bench-sqlite-load.c):
 *
 *  B2  from "paired" until every record is committed on the desktop and
 *      every message searchable, its ratio to the baseline's time, and the
 *      peak resident memory of both processes;
 *  B3  from the phone's "scanned" to the complete chat list (every chat
 *      and its newest message committed), for the largest data set and the
 *      one with the fewest messages over as many chats.
 *
 * The phone's data is generated before the desktop starts, so that a long
 * generation cannot outlive the pairing code.
 *
 * Each run also checks that the mirror holds as many records as the phone
 * and, up to CHECK_EXPORT_MAX messages, that the two exports are identical.
 * Usage: bench-sync SPEC [SPEC…], e.g. chats=5000,messages=1000000,… */
#include "config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench-report.h"
#include "bench-sqlite-load.h"
#include "companion-generator.h"
#include "companion-mirror-store.h"
#include "companion-phone-store.h"
#include "test-process.h"
#include "test-util.h"

/* Exports hold every record in memory: compared up to this size. */
#define CHECK_EXPORT_MAX 200000

typedef struct
{
  const char *spec;
  gint64      messages;
  gint64      chats;
  double      chat_list_s;
  double      sync_s;
  double      baseline_s;
  guint64     baseline_rows;
  double      desk_mib;
  double      phone_mib;
} Run;

static gint64
count_previews (const char *phone_db)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 count = -1;

  if (sqlite3_open_v2 (phone_db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (db, "SELECT count(DISTINCT chat) FROM messages", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    count = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return count;
}

/* The desktop commits the previews in the first message pages: the chat
 * list is complete at the page that brings their count to PREVIEWS. */
static gint64
chat_list_time (const char *output,
                gint64      previews)
{
  g_auto(GStrv) lines = g_strsplit (output, "\n", -1);
  gint64 seen = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonObject) event = NULL;

      if (strstr (lines[i], "\"sync-progress\"") == NULL)
        continue;
      event = test_util_json_object (lines[i]);
      if (!g_str_equal (json_object_get_string_member (event, "entity"), "message"))
        continue;
      seen += json_object_get_int_member (event, "records");
      if (seen >= previews)
        return json_object_get_int_member (event, "monotonic_us");
    }
  return -1;
}

static gboolean
check_mirror (const char *desk,
              const char *phone_dir,
              gint64      messages)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionMirrorStore) mirror = companion_mirror_store_open (desk, &error);
  g_autoptr(CompanionPhoneStore) phone = companion_phone_store_open (phone_dir, &error);
  g_autoptr(GPtrArray) hits = NULL;

  if (mirror == NULL || phone == NULL)
    {
      fprintf (stderr, "bench-sync: %s\n", error->message);
      return FALSE;
    }
  for (CompanionEntity entity = 0; entity < COMPANION_N_ENTITIES; entity++)
    {
      gint64 mirrored = companion_mirror_store_count (mirror, entity, NULL);
      gint64 held = companion_phone_store_count (phone, entity, NULL);

      if (mirrored != held)
        {
          fprintf (stderr, "bench-sync: the mirror holds %" G_GINT64_FORMAT " %s records, the phone %"
                   G_GINT64_FORMAT "\n", mirrored, companion_entity_to_string (entity), held);
          return FALSE;
        }
    }
  /* Searchable: a word every data set has finds something. */
  hits = companion_mirror_store_search (mirror, "a", "[", "]", 1, &error);
  if (hits == NULL || (messages > 0 && hits->len == 0))
    {
      fprintf (stderr, "bench-sync: search after the sync found nothing%s%s\n",
               error != NULL ? ": " : "", error != NULL ? error->message : "");
      return FALSE;
    }
  if (messages <= CHECK_EXPORT_MAX)
    {
      g_autoptr(CompanionExport) mirror_export = companion_mirror_store_export (mirror, NULL);
      g_autoptr(CompanionExport) phone_export = companion_phone_store_export (phone, NULL);
      g_autofree char *desk_text = companion_export_to_string (mirror_export, NULL);
      g_autofree char *phone_text = companion_export_to_string (phone_export, NULL);

      if (!g_str_equal (desk_text, phone_text))
        {
          fprintf (stderr, "bench-sync: the exports of the mirror and the phone differ\n");
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
measure (const char *cli,
         const char *phone,
         const char *root,
         Run        *run,
         guint       index)
{
  g_autofree char *dir = g_strdup_printf ("%s/run-%u", root, index);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_dir = g_build_filename (dir, "phone", NULL);
  g_autofree char *phone_db = g_build_filename (phone_dir, COMPANION_PHONE_STORE_FILENAME, NULL);
  g_autofree char *baseline_dir = g_build_filename (dir, "baseline", NULL);
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) scanned = NULL;
  g_autoptr(JsonObject) paired = NULL;
  g_autoptr(JsonObject) synced = NULL;
  g_autoptr(GError) error = NULL;
  gint64 previews, chat_list_us;
  TestProcess *desktop, *device;
  CompanionGeneratorSpec spec;
  CompanionGeneratorCounts counts = { 0 };
  gboolean ok;

  g_mkdir_with_parents (dir, 0700);
  {
    g_autoptr(CompanionPhoneStore) store = companion_phone_store_open (phone_dir, &error);

    if (store == NULL || !companion_generator_parse_spec (run->spec, &spec, &error) ||
        !companion_generator_run (store, &spec, &counts, &error))
      {
        fprintf (stderr, "bench-sync: %s\n", error->message);
        return FALSE;
      }
  }
  run->messages = counts.messages;
  run->chats = counts.chats;
  /* The generated database on disk first: the kernel would otherwise write
   * it back during the measured sync (and the sync's own files before the
   * baseline's load, below). */
  sync ();

  desktop = test_process_start (cli, "pair", "--json", "--state-dir", desk, "--listen", "127.0.0.1:0",
                                "--qr-png", png, NULL);
  event = test_process_wait_event (desktop, "qr");
  device = test_process_start (phone, "scan", png, "--json", "--state-dir", phone_dir, NULL);
  scanned = test_process_wait_event (device, "scanned");
  paired = test_process_wait_event (desktop, "paired");
  do
    {
      g_clear_pointer (&synced, json_object_unref);
      synced = test_process_wait_event (desktop, "synced");
    }
  while (json_object_get_int_member (synced, "cursor") < (gint64) counts.last_seq);

  run->sync_s = (json_object_get_int_member (synced, "monotonic_us") -
                 json_object_get_int_member (paired, "monotonic_us")) / 1e6;
  run->desk_mib = test_process_peak_rss_kib (desktop) / 1024.0;
  run->phone_mib = test_process_peak_rss_kib (device) / 1024.0;

  test_process_send (device, "{\"type\": \"quit\"}");
  test_process_send (desktop, "{\"type\": \"quit\"}");
  test_process_drain (desktop);
  previews = count_previews (phone_db);
  chat_list_us = chat_list_time (test_process_get_output (desktop), previews);
  run->chat_list_s = (chat_list_us - json_object_get_int_member (scanned, "monotonic_us")) / 1e6;
  ok = test_process_finish (device) == 0 && test_process_finish (desktop) == 0;
  if (!ok || previews < 0 || chat_list_us < 0)
    {
      fprintf (stderr, "bench-sync: the run of %s did not finish cleanly\n", run->spec);
      return FALSE;
    }

  if (!check_mirror (desk, phone_dir, run->messages))
    return FALSE;

  /* The baseline, on the same machine in the same run, with nothing else of
   * ours running. */
  sync ();
  run->baseline_s = bench_sqlite_load (phone_db, baseline_dir, &run->baseline_rows, &error);
  if (run->baseline_s < 0)
    {
      fprintf (stderr, "bench-sync: %s\n", error->message);
      return FALSE;
    }

  printf ("| %-52s | %9.3f | %9.3f | %9.3f | %8.1f | %8.1f |\n", run->spec, run->chat_list_s,
          run->sync_s, run->baseline_s, run->desk_mib, run->phone_mib);
  fflush (stdout);
  test_util_remove_tree (dir);
  return TRUE;
}

static char *
size_name (gint64 messages)
{
  if (messages >= 1000000 && messages % 1000000 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "M", messages / 1000000);
  if (messages >= 1000 && messages % 1000 == 0)
    return g_strdup_printf ("%" G_GINT64_FORMAT "k", messages / 1000);
  return g_strdup_printf ("%" G_GINT64_FORMAT, messages);
}

static void
print_rows (const Run *runs,
            guint      n)
{
  const Run *small = NULL, *large = &runs[0];
  g_autofree char *large_size = NULL, *small_size = NULL, *name = NULL, *chats = NULL;
  g_autofree char *baseline_name = NULL;
  double ratio;

  for (guint i = 1; i < n; i++)
    if (runs[i].messages > large->messages)
      large = &runs[i];
  /* B3 asks whether history slows the chat list: it compares phones that
   * differ only in their history, with the same chats. */
  for (guint i = 0; i < n; i++)
    if (runs[i].chats == large->chats && (small == NULL || runs[i].messages < small->messages))
      small = &runs[i];
  large_size = size_name (large->messages);
  small_size = size_name (small->messages);
  chats = size_name (large->chats);

  /* The ratio of rates over the same rows is the inverse ratio of times. */
  ratio = large->baseline_s / large->sync_s;
  name = g_strdup_printf ("first sync %s messages, wall time", large_size);
  bench_report_row ("B2", name, large->sync_s, "s", large->baseline_s, "raw SQLite bulk load", ratio,
                    "≤ 15 s, ratio ≥ 0.3", large->sync_s <= 15 && ratio >= 0.3);
  g_free (name);
  name = g_strdup_printf ("first sync %s messages, peak memory of the desktop", large_size);
  bench_report_row ("B2", name, large->desk_mib, "MiB", NAN, NULL, NAN, "≤ 200 MiB", large->desk_mib <= 200);
  g_free (name);
  name = g_strdup_printf ("first sync %s messages, peak memory of the phone", large_size);
  bench_report_row ("B2", name, large->phone_mib, "MiB", NAN, NULL, NAN, "≤ 200 MiB", large->phone_mib <= 200);
  g_free (name);

  name = g_strdup_printf ("scan to complete chat list, %s chats, %s messages", chats, small_size);
  bench_report_row ("B3", name, small->chat_list_s, "s", NAN, NULL, NAN, "≤ 1 s", small->chat_list_s <= 1);
  g_free (name);
  name = g_strdup_printf ("scan to complete chat list, %s chats, %s messages", chats, large_size);
  baseline_name = g_strdup_printf ("the same chats with %s messages", small_size);
  ratio = large->chat_list_s / small->chat_list_s;
  bench_report_row ("B3", name, large->chat_list_s, "s", small->chat_list_s, baseline_name, ratio,
                    "≤ 1 s, ≤ 1.2 × the smallest", large->chat_list_s <= 1 && ratio <= 1.2);
}

int
main (int   argc,
      char *argv[])
{
  const char *cli = g_getenv ("COMPANION_CLI");
  const char *phone = g_getenv ("COMPANION_PHONE");
  g_autofree char *root = g_dir_make_tmp ("companion-bench-sync-XXXXXX", NULL);
  g_autofree Run *runs = NULL;
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
  bench_program_env ();

  printf ("First sync on loopback (real companion-cli and companion-phone processes)\n\n");
  printf ("| %-52s | %9s | %9s | %9s | %8s | %8s |\n", "phone data", "chat list", "full sync",
          "baseline", "desk MiB", "phone MiB");
  printf ("|------------------------------------------------------|-----------|-----------|"
          "-----------|----------|----------|\n");
  runs = g_new0 (Run, argc - 1);
  for (int i = 1; i < argc && status == 0; i++)
    {
      runs[i - 1].spec = argv[i];
      if (!measure (cli, phone, root, &runs[i - 1], (guint) i))
        status = 1;
    }
  printf ("\nChat list: from the phone's \"scanned\" to the last preview committed.\n"
          "Full sync: from \"paired\" to every record committed and searchable. Baseline: the same\n"
          "rows loaded into the mirror's schema with raw SQLite (one transaction, FTS rebuilt once).\n"
          "MiB are peak resident memory (VmHWM).\n\n");
  if (status == 0)
    print_rows (runs, (guint) argc - 1);
  test_util_remove_tree (root);
  return status;
}
