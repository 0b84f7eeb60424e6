/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Crash safety, with the real programs.
 *
 * /crash-safety/kills: while the desktop mirrors a phone that makes heavy
 * live traffic, the desktop (and now and then the phone) is killed with
 * SIGKILL at seeded random moments; after each kill SQLite's own
 * integrity check passes on the dead program's database (mirror.db or
 * phone.db), opened here directly, and once the traffic stops the desktop's
 * export equals the phone's. COMPANION_TEST_SEED picks the seed (default 1).
 *
 * /crash-safety/full-disk: the desktop's state folder sits on a small
 * filesystem (a tmpfs when running as root, else a file size limit); the
 * sync stops with an error that says the disk is full, the database stays
 * sound, and once there is room again the mirror converges.
 */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "companion-mirror-store.h"
#include "companion-phone-store.h"

#include "test-process.h"
#include "test-loop.h"
#include "test-util.h"

static char *system_data_dirs;

/* SQLite's verdict on the database FILENAME in STATE_DIR, opened the way any
 * program would after a crash (which recovers its write-ahead log). */
static void
assert_integrity (const char *state_dir,
                  const char *filename)
{
  g_autofree char *path = g_build_filename (state_dir, filename, NULL);
  g_autofree char *verdict = NULL;
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return; /* killed before it was created: nothing to check */
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  verdict = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  if (!g_str_equal (verdict, "ok"))
    g_test_message ("%s: %s", path, verdict);
  g_assert_cmpstr (verdict, ==, "ok");
}

static TestProcess *
start_desktop_run (const char *desk)
{
  return test_process_start (test_process_program ("COMPANION_CLI"), "run", "--json", "--state-dir", desk,
                             "--listen", "127.0.0.1:0", NULL);
}

/* With RATE, the phone also makes live traffic. */
static TestProcess *
start_phone_run (const char *phone_state,
                 const char *rate,
                 guint       seed)
{
  g_autofree char *seed_text = g_strdup_printf ("%u", seed);

  if (rate == NULL)
    return test_process_start (test_process_program ("COMPANION_PHONE"), "run", "--json", "--state-dir", phone_state, NULL);
  return test_process_start (test_process_program ("COMPANION_PHONE"), "run", "--json", "--state-dir", phone_state,
                             "--events", rate, "--seed", seed_text, NULL);
}

/* Pairs a desktop in DESK with a phone in PHONE_STATE holding SPEC; the
 * desktop cannot grow a file past FILE_LIMIT bytes (0: no limit). */
static void
pair (const char   *dir,
      const char   *desk,
      const char   *phone_state,
      const char   *spec,
      const char   *rate,
      goffset       file_limit,
      TestProcess **desktop_out,
      TestProcess **phone_out)
{
  g_autofree char *png = g_build_filename (dir, "qr.png", NULL);
  g_autoptr(JsonObject) event = NULL;

  test_process_set_file_size_limit (file_limit);
  *desktop_out = test_process_start (test_process_program ("COMPANION_CLI"), "pair", "--json", "--state-dir", desk,
                                     "--listen", "127.0.0.1:0", "--qr-png", png, NULL);
  test_process_set_file_size_limit (0);
  event = test_process_wait_event (*desktop_out, "qr");
  if (rate != NULL)
    *phone_out = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state,
                                     "--generate", spec, "--events", rate, "--seed", "1", NULL);
  else
    *phone_out = test_process_start (test_process_program ("COMPANION_PHONE"), "scan", png, "--json", "--state-dir", phone_state,
                                     "--generate", spec, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (*desktop_out, "paired");
}

/* Stops the phone's traffic, lets the desktop catch up, and compares. */
static void
converge (const char  *desk,
          const char  *phone_state,
          TestProcess *desktop,
          TestProcess *phone)
{
  g_autoptr(JsonObject) event = NULL;
  g_autofree char *desk_export = NULL;
  g_autofree char *phone_export = NULL;

  test_process_send (phone, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  phone = start_phone_run (phone_state, NULL, 0);
  event = test_process_wait_event (phone, "connected");
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_up_to_date (desktop);
  test_process_send (phone, "{\"type\": \"quit\"}");
  test_process_send (desktop, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (phone), ==, 0);
  g_assert_cmpint (test_process_finish (desktop), ==, 0);

  desk_export = test_process_export (test_process_program ("COMPANION_CLI"), desk);
  phone_export = test_process_export (test_process_program ("COMPANION_PHONE"), phone_state);
  g_test_message ("exports of %zu bytes", strlen (desk_export));
  g_assert_cmpuint (strlen (desk_export), >, 10000);
  g_assert_true (g_str_equal (desk_export, phone_export));
}

static void
test_kills (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-crash-XXXXXX", NULL);
  g_autofree char *desk = g_build_filename (dir, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autoptr(GRand) rand = NULL;
  const char *seed_text = g_getenv ("COMPANION_TEST_SEED");
  guint32 seed = seed_text != NULL ? (guint32) atoi (seed_text) : 1;
  /* At least 50 desktop kills in the plain build; fewer when sanitized. */
  guint desktop_kills = test_process_sanitized () ? 15 : 50;
  guint phone_kills = test_process_sanitized () ? 5 : 15;
  guint done_desktop = 0, done_phone = 0;
  TestProcess *desktop, *phone;

  rand = g_rand_new_with_seed (seed);
  g_test_message ("seed %u: %u desktop kills, %u phone kills", seed, desktop_kills, phone_kills);
  test_process_isolated_env (g_get_user_data_dir (), system_data_dirs);
  pair (dir, desk, phone_state,
        test_process_sanitized () ? "chats=20,messages=1500,media=4,calls=60,seed=3"
                                  : "chats=30,messages=5000,media=6,calls=150,seed=3",
        "100", 0, &desktop, &phone);

  while (done_desktop < desktop_kills || done_phone < phone_kills)
    {
      gboolean kill_phone = done_phone < phone_kills &&
                            (done_desktop >= desktop_kills || g_rand_int_range (rand, 0, 4) == 0);
      guint delay = (guint) g_rand_int_range (rand, 0, test_process_sanitized () ? 600 : 250);
      g_autoptr(JsonObject) event = NULL;

      /* Kill while a sync is under way: after the next connection. */
      event = test_process_wait_event (desktop, "connected");
      test_loop_spin (delay);
      if (kill_phone)
        {
          test_process_kill (phone);
          assert_integrity (phone_state, COMPANION_PHONE_STORE_FILENAME);
          phone = start_phone_run (phone_state, "100", ++done_phone + 1);
        }
      else
        {
          test_process_kill (desktop);
          assert_integrity (desk, COMPANION_MIRROR_STORE_FILENAME);
          desktop = start_desktop_run (desk);
          done_desktop++;
        }
    }

  converge (desk, phone_state, desktop, phone);
  assert_integrity (desk, COMPANION_MIRROR_STORE_FILENAME);
  assert_integrity (phone_state, COMPANION_PHONE_STORE_FILENAME);
  test_util_remove_tree (dir);
}

/* ---- a full disk ------------------------------------------------------------ */

typedef enum
{
  SMALL_DISK_NONE,
  SMALL_DISK_TMPFS,
  SMALL_DISK_FILE_LIMIT,
} SmallDisk;

/* Makes MOUNT_POINT a filesystem of SIZE_KIB, when the test may mount. */
static gboolean
mount_small (const char *mount_point,
             guint       size_kib,
             gboolean    remount)
{
  g_autofree char *options = g_strdup_printf ("size=%uk,mode=0700", size_kib);

  if (getuid () != 0)
    return FALSE;
  return mount ("tmpfs", mount_point, "tmpfs", remount ? MS_REMOUNT : 0, options) == 0;
}

static void
test_full_disk (void)
{
  g_autofree char *dir = g_dir_make_tmp ("companion-full-XXXXXX", NULL);
  g_autofree char *disk = g_build_filename (dir, "disk", NULL);
  g_autofree char *desk = g_build_filename (disk, "desktop", NULL);
  g_autofree char *phone_state = g_build_filename (dir, "phone", NULL);
  g_autoptr(JsonObject) event = NULL;
  const char *reason;
  SmallDisk small = SMALL_DISK_NONE;
  goffset file_limit = 0;
  TestProcess *desktop, *phone;

  g_assert_cmpint (g_mkdir (disk, 0700), ==, 0);
  if (g_getenv ("COMPANION_TEST_NO_MOUNT") == NULL && mount_small (disk, 1024, FALSE))
    small = SMALL_DISK_TMPFS;
  else
    {
      /* No mounting without root: a file size limit on the desktop fails
       * its writes the same way (SIGXFSZ ignored, EFBIG). */
      small = SMALL_DISK_FILE_LIMIT;
      file_limit = 1024 * 1024;
    }
  g_test_message ("a 1 MiB disk: %s", small == SMALL_DISK_TMPFS ? "tmpfs" : "RLIMIT_FSIZE");
  test_process_isolated_env (g_get_user_data_dir (), system_data_dirs);

  pair (dir, desk, phone_state,
        test_process_sanitized () ? "chats=20,messages=3000,media=2,calls=60,seed=4"
                                  : "chats=30,messages=6000,media=2,calls=100,seed=4",
        NULL, file_limit, &desktop, &phone);

  /* The disk fills up during the first sync: the error says so. */
  event = test_process_wait_event (desktop, "sync-failed");
  reason = json_object_get_string_member (event, "reason");
  g_test_message ("the desktop said: %s", reason);
  /* SQLite says "database or disk is full" for a full disk; a file size
   * limit (EFBIG) it reports as a "disk I/O error". */
  if (small == SMALL_DISK_TMPFS)
    g_assert_nonnull (strstr (reason, "disk is full"));
  else
    g_assert_true (strstr (reason, "disk is full") != NULL || strstr (reason, "disk I/O error") != NULL);
  test_process_send (desktop, "{\"type\": \"quit\"}");
  g_assert_cmpint (test_process_finish (desktop), ==, 0);
  assert_integrity (desk, COMPANION_MIRROR_STORE_FILENAME);

  /* Room again: the next run picks up where the committed cursor was. */
  if (small == SMALL_DISK_TMPFS)
    g_assert_true (mount_small (disk, 256 * 1024, TRUE));
  desktop = start_desktop_run (desk);
  converge (desk, phone_state, desktop, phone);
  assert_integrity (desk, COMPANION_MIRROR_STORE_FILENAME);

  if (small == SMALL_DISK_TMPFS)
    g_assert_cmpint (umount2 (disk, MNT_DETACH), ==, 0);
  test_util_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  system_data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") != NULL ? g_getenv ("XDG_DATA_DIRS")
                                                                   : "/usr/local/share:/usr/share");
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/crash-safety/kills", test_kills);
  g_test_add_func ("/crash-safety/full-disk", test_full_disk);

  return g_test_run ();
}
