/* SPDX-License-Identifier: GPL-3.0-or-later */
/* B6, the desktop app on a big mirror, under X (run with xvfb-run):
 * - cold start: the real `companion` process on a state folder that is
 *   already paired and mirrored, from its start to its first frame and to
 *   its first frame with chat rows (the frame events it prints with
 *   COMPANION_REPORT_FIRST_FRAME=1; both processes read CLOCK_MONOTONIC);
 * - in this process, the real window, engine and mirror: opening the
 *   biggest chat to the first frame painted with its rows, scrolling up
 *   through it at a steady rate (frame intervals from the frame clock),
 *   and the resident memory with all that shown.
 * The mirror is made by the real programs (companion-phone --generate SPEC
 * synced by companion-cli), once: with COMPANION_BENCH_CACHE set it is kept
 * there for the next runs. --smoke runs each step once, briefly, and checks
 * what is shown against the database; it prints no BENCH rows.
 * Usage: bench-gui [--smoke] SPEC */
#include "config.h"

#include <adwaita.h>
#include <math.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench-report.h"
#include "companion-core.h"
#include "companion-desktop-server.h"
#include "companion-engine.h"
#include "companion-message-list.h"
#include "companion-message-row.h"
#include "companion-mirror-store.h"
#include "companion-secret-key-store.h"
#include "companion-window.h"
#include "test-loop.h"
#include "test-process.h"
#include "test-util.h"

/* Scrolling up, as a person reading back quickly would fling. */
#define SCROLL_PX_PER_S 5000.0

typedef struct
{
  gboolean smoke;
  char    *desk_dir;
  /* What the mirror holds, read with plain SQL. */
  char    *big_chat;
  gint64   big_chat_messages;
  gint64   chats;
  char    *newest_id;
  char    *newest_text;    /* NULL when deleted or without text */

  /* The window in this process. */
  CompanionWindow *window;
  gint64           open_started;
  gint64           open_painted;
  gint64           open_started_cpu;
  gint64           open_painted_cpu;
  gint64           last_paint;
  gint64           paint_started;
  gboolean         recording;
  GArray          *intervals;   /* gint64 µs between painted frames */
  GArray          *work;        /* gint64 µs from before-paint to after-paint */
  GArray          *work_cpu;    /* the same in this thread's CPU time, which other programs do not stretch */
  gint64           paint_started_cpu;
  gint64           scroll_last;
  guint            shown_before_scroll;
} Bench;

static Bench bench;

static void
fail (const char *format,
      ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

static void
fail (const char *format,
      ...)
{
  va_list args;

  va_start (args, format);
  fprintf (stderr, "bench-gui: ");
  vfprintf (stderr, format, args);
  fprintf (stderr, "\n");
  va_end (args);
  exit (1);
}

static void
check (gboolean    condition,
       const char *what)
{
  if (!condition)
    fail ("check failed: %s", what);
}

/* Runs the main context until DONE() holds, or fails after SECONDS. */
static void
wait_until (gboolean  (*done) (void),
            int         seconds,
            const char *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_USEC_PER_SEC;
  guint tick = g_timeout_add (5, test_loop_keep_awake, NULL);

  while (!done ())
    {
      if (g_get_monotonic_time () > deadline)
        fail ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (tick);
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;
  guint tick = g_timeout_add (5, test_loop_keep_awake, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

static gint64
proc_status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  line = strstr (status, field);
  return line != NULL ? g_ascii_strtoll (line + strlen (field) + 1, NULL, 10) : -1;
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* The Pth percentile of VALUES (sorted in place), nearest rank. */
static gint64
percentile (GArray *values,
            double  p)
{
  guint rank;

  if (values->len == 0)
    return 0;
  g_array_sort (values, compare_gint64);
  rank = (guint) MAX (1.0, p / 100.0 * values->len + 0.999999);
  return g_array_index (values, gint64, MIN (rank, values->len) - 1);
}

static void
print_row (const char *name,
           double      value,
           const char *unit,
           const char *target,
           gboolean    met)
{
  if (!bench.smoke)
    bench_report_row ("B6", name, value, unit, NAN, NULL, NAN, target, met);
}

/* The mirror. */

static void
make_mirror (const char *root,
             const char *spec)
{
  const char *cli = g_getenv ("COMPANION_CLI");
  const char *phone = g_getenv ("COMPANION_PHONE");
  g_autofree char *phone_dir = g_build_filename (root, "phone", NULL);
  g_autofree char *gone_dir = g_build_filename (root, "gone", NULL);
  g_autofree char *png = g_build_filename (root, "qr.png", NULL);
  g_autofree char *ready = g_build_filename (root, "ready", NULL);
  g_autoptr(JsonObject) event = NULL;
  g_autoptr(JsonObject) generated = NULL;
  g_autoptr(JsonObject) synced = NULL;
  gint64 last_seq, started = g_get_monotonic_time ();
  TestProcess *desktop, *device;

  printf ("Making the mirror of %s in %s…\n", spec, root);
  fflush (stdout);
  /* Generating takes longer than a pairing code lasts (minutes for a
   * million messages): the phone generates its data after scanning the
   * code of a desktop already gone, then pairs with a fresh code. */
  desktop = test_process_start (cli, "pair", "--json", "--state-dir", gone_dir, "--listen", "127.0.0.1:0",
                                "--qr-png", png, NULL);
  event = test_process_wait_event (desktop, "qr");
  test_process_kill (desktop);
  device = test_process_start (phone, "scan", png, "--json", "--state-dir", phone_dir, "--generate", spec, NULL);
  generated = test_process_wait_event (device, "generated");
  last_seq = json_object_get_int_member (generated, "last_seq");
  test_process_kill (device);
  test_util_remove_tree (gone_dir);

  desktop = test_process_start (cli, "pair", "--json", "--state-dir", bench.desk_dir, "--listen", "127.0.0.1:0",
                                "--qr-png", png, NULL);
  g_clear_pointer (&event, json_object_unref);
  event = test_process_wait_event (desktop, "qr");
  device = test_process_start (phone, "scan", png, "--json", "--state-dir", phone_dir, NULL);
  do
    {
      g_clear_pointer (&synced, json_object_unref);
      synced = test_process_wait_event (desktop, "synced");
    }
  while (json_object_get_int_member (synced, "cursor") < last_seq);
  test_process_send (device, "{\"type\": \"quit\"}");
  test_process_send (desktop, "{\"type\": \"quit\"}");
  check (test_process_finish (device) == 0 && test_process_finish (desktop) == 0, "the programs end well");
  /* Only the desktop's side is needed from now on. */
  test_util_remove_tree (phone_dir);
  g_unlink (png);
  check (g_file_set_contents (ready, spec, -1, NULL), "the mirror is marked ready");
  printf ("Made in %.1f s\n", (g_get_monotonic_time () - started) / 1e6);
}

static char *
sql_text (sqlite3    *db,
          const char *sql,
          const char *parameter,
          gint64     *number_out)
{
  sqlite3_stmt *stmt = NULL;
  char *text = NULL;

  check (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK, sql);
  if (parameter != NULL)
    sqlite3_bind_text (stmt, 1, parameter, -1, SQLITE_TRANSIENT);
  check (sqlite3_step (stmt) == SQLITE_ROW, sql);
  if (sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  if (number_out != NULL)
    *number_out = sqlite3_column_int64 (stmt, 1);
  sqlite3_finalize (stmt);
  return text;
}

/* A kept mirror is used only while its key is still there: the keyring
 * knows it by the state folder's path. */
static gboolean
mirror_usable (const char *ready)
{
  const char *argv[] = { g_getenv ("COMPANION_CLI"), "status", "--state-dir", bench.desk_dir, NULL };
  g_autofree char *output = NULL;
  int status = -1;

  return g_file_test (ready, G_FILE_TEST_EXISTS) &&
         g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &output, NULL,
                       &status, NULL) &&
         g_spawn_check_wait_status (status, NULL);
}

/* What the window must show, read with plain SQL, not through the app. */
static void
read_expectations (void)
{
  g_autofree char *path = g_build_filename (bench.desk_dir, COMPANION_MIRROR_STORE_FILENAME, NULL);
  g_autofree char *deleted = NULL;
  sqlite3 *db = NULL;

  check (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "the mirror opens");
  bench.big_chat = sql_text (db, "SELECT chat, count(*) AS n FROM messages GROUP BY chat ORDER BY n DESC, chat LIMIT 1",
                             NULL, &bench.big_chat_messages);
  g_free (sql_text (db, "SELECT 0, count(*) FROM chats", NULL, &bench.chats));
  bench.newest_id = sql_text (db, "SELECT id, 0 FROM messages WHERE chat = ?1 ORDER BY time DESC, id DESC LIMIT 1",
                              bench.big_chat, NULL);
  bench.newest_text = sql_text (db, "SELECT json_extract(json, '$.text'), 0 FROM messages WHERE id = ?1",
                                bench.newest_id, NULL);
  deleted = sql_text (db, "SELECT json_extract(json, '$.deleted'), 0 FROM messages WHERE id = ?1",
                      bench.newest_id, NULL);
  if (g_strcmp0 (deleted, "1") == 0 || (bench.newest_text != NULL && *bench.newest_text == '\0'))
    g_clear_pointer (&bench.newest_text, g_free);
  sqlite3_close (db);
  printf ("%" G_GINT64_FORMAT " chats; the biggest, %s, has %" G_GINT64_FORMAT " messages\n",
          bench.chats, bench.big_chat, bench.big_chat_messages);
}

/* The messages shown must be the chat's newest N, in order, each once. */
static void
check_messages_shown (CompanionMessageList *messages)
{
  g_autofree char *path = g_build_filename (bench.desk_dir, COMPANION_MIRROR_STORE_FILENAME, NULL);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (messages));
  sqlite3_stmt *stmt = NULL;
  sqlite3 *db = NULL;
  guint i = n;

  check (n > 0 && n <= bench.big_chat_messages, "the number of messages shown");
  check (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK, "the mirror opens");
  check (sqlite3_prepare_v2 (db, "SELECT id FROM messages WHERE chat = ?1 ORDER BY time DESC, id DESC LIMIT ?2",
                             -1, &stmt, NULL) == SQLITE_OK, "the messages are read");
  sqlite3_bind_text (stmt, 1, bench.big_chat, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, n);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      g_autoptr(CompanionMessageItem) item = g_list_model_get_item (G_LIST_MODEL (messages), --i);

      if (g_strcmp0 (companion_message_item_get_id (item), (const char *) sqlite3_column_text (stmt, 0)) != 0)
        fail ("message %u of %u shown is %s, not %s", i, n, companion_message_item_get_id (item),
              sqlite3_column_text (stmt, 0));
    }
  check (i == 0, "as many messages in the mirror as shown");
  sqlite3_finalize (stmt);
  sqlite3_close (db);
}

/* Cold start: the real program. */

static void
cold_start (guint   runs,
            double *median_ms_out)
{
  const char *app = g_getenv ("COMPANION_APP");
  g_autoptr(GArray) first_frames = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) chat_frames = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 peak_kib = 0;

  g_setenv ("COMPANION_REPORT_FIRST_FRAME", "1", TRUE);
  for (guint run = 0; run < runs; run++)
    {
      g_autoptr(JsonObject) first = NULL;
      g_autoptr(JsonObject) shown = NULL;
      gint64 started = g_get_monotonic_time (), first_us, shown_us;
      TestProcess *process;

      process = test_process_start (app, "--state-dir", bench.desk_dir, "--listen", "127.0.0.1:0", NULL);
      first = test_process_wait_event (process, "first-frame");
      shown = test_process_wait_event (process, "chats-shown");
      first_us = json_object_get_int_member (first, "monotonic_us") - started;
      shown_us = json_object_get_int_member (shown, "monotonic_us") - started;
      check (json_object_get_int_member (shown, "chats") > 0 &&
             json_object_get_int_member (shown, "chats") <= bench.chats, "the app shows chat rows");
      g_array_append_val (first_frames, first_us);
      g_array_append_val (chat_frames, shown_us);
      /* Once the whole list is in. */
      spin (bench.smoke ? 200 : 1500);
      peak_kib = MAX (peak_kib, test_process_peak_rss_kib (process));
      printf ("  run %u: first frame %.1f ms, first chat rows %.1f ms\n", run + 1, first_us / 1e3, shown_us / 1e3);
      test_process_kill (process);
    }
  g_unsetenv ("COMPANION_REPORT_FIRST_FRAME");
  *median_ms_out = percentile (first_frames, 50) / 1e3;
  printf ("Cold start (median of %u): first frame %.1f ms, first chat rows %.1f ms; "
          "the app's peak RSS %.1f MiB\n", runs, *median_ms_out, percentile (chat_frames, 50) / 1e3,
          peak_kib / 1024.0);
}

/* In this process: frames. */

static CompanionConversationView *
conversation (void)
{
  return companion_window_get_conversation (bench.window);
}

static gint64
thread_cpu_us (void)
{
  struct timespec now;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &now);
  return (gint64) now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000;
}

static void
on_before_paint (GdkFrameClock *clock)
{
  bench.paint_started = g_get_monotonic_time ();
  bench.paint_started_cpu = thread_cpu_us ();
}

static void
on_after_paint (GdkFrameClock *clock)
{
  gint64 now = g_get_monotonic_time ();
  CompanionMessageList *messages = companion_conversation_view_get_messages (conversation ());

  /* Rows in the model before this frame's layout were painted in it. */
  if (bench.open_started != 0 && bench.open_painted == 0 && messages != NULL &&
      companion_message_list_is_loaded (messages))
    {
      bench.open_painted = now;
      bench.open_painted_cpu = thread_cpu_us ();
    }
  if (bench.recording)
    {
      gint64 interval = now - bench.last_paint, work = now - bench.paint_started;
      gint64 work_cpu = thread_cpu_us () - bench.paint_started_cpu;

      g_array_append_val (bench.intervals, interval);
      g_array_append_val (bench.work, work);
      g_array_append_val (bench.work_cpu, work_cpu);
    }
  bench.last_paint = now;
}

static gboolean
chats_loaded (void)
{
  return companion_chat_list_is_loaded (companion_window_get_chat_list (bench.window));
}

static gboolean
open_painted (void)
{
  return bench.open_painted != 0;
}

/* The row on screen showing MESSAGE_ID, or NULL. */
static CompanionMessageRow *
shown_row_of (GtkWidget  *widget,
              const char *message_id)
{
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      CompanionMessageRow *row;

      if (COMPANION_IS_MESSAGE_ROW (child))
        {
          CompanionMessageItem *item = companion_message_row_get_item (COMPANION_MESSAGE_ROW (child));

          if (gtk_widget_get_mapped (child) && item != NULL &&
              g_strcmp0 (companion_message_item_get_id (item), message_id) == 0)
            return COMPANION_MESSAGE_ROW (child);
        }
      else if ((row = shown_row_of (child, message_id)) != NULL)
        return row;
    }
  return NULL;
}

static guint
find_big_chat (void)
{
  GListModel *chats = G_LIST_MODEL (companion_window_get_chat_list (bench.window));

  for (guint i = 0; i < g_list_model_get_n_items (chats); i++)
    {
      g_autoptr(CompanionChatItem) item = g_list_model_get_item (chats, i);
      if (g_strcmp0 (companion_chat_item_get_id (item), bench.big_chat) == 0)
        return i;
    }
  fail ("%s is not in the chat list", bench.big_chat);
}

static double
open_chat (guint position,
           guint runs)
{
  g_autoptr(GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) cpu_times = g_array_new (FALSE, FALSE, sizeof (gint64));
  CompanionMessageList *messages;
  CompanionMessageRow *newest;

  for (guint run = 0; run < runs; run++)
    {
      gint64 took, took_cpu;

      companion_conversation_view_set_chat (conversation (), NULL);
      spin (300);
      bench.open_painted = 0;
      bench.open_started = g_get_monotonic_time ();
      bench.open_started_cpu = thread_cpu_us ();
      companion_window_open_chat (bench.window, position);
      wait_until (open_painted, test_process_timeout_s (), "the chat's first frame");
      took = bench.open_painted - bench.open_started;
      took_cpu = bench.open_painted_cpu - bench.open_started_cpu;
      bench.open_started = 0;
      g_array_append_val (times, took);
      g_array_append_val (cpu_times, took_cpu);
      printf ("  run %u: %.1f ms (%.1f ms of the main thread's CPU time)\n", run + 1, took / 1e3, took_cpu / 1e3);
    }

  /* What that frame showed: the newest message at the end, as in the mirror. */
  messages = companion_conversation_view_get_messages (conversation ());
  check_messages_shown (messages);
  /* One page at first: a window's worth, not the whole chat. */
  check (g_list_model_get_n_items (G_LIST_MODEL (messages)) >= MIN (10, bench.big_chat_messages) &&
         g_list_model_get_n_items (G_LIST_MODEL (messages)) <= 100, "one page of messages at first");
  newest = shown_row_of (GTK_WIDGET (companion_conversation_view_get_list_view (conversation ())),
                         bench.newest_id);
  check (newest != NULL, "the newest message is on screen");
  if (bench.newest_text != NULL)
    {
      g_autofree char *shown = g_strdup_printf (": %s", bench.newest_text);
      check (strstr (companion_message_row_get_description (newest), shown) != NULL, "the newest message's text");
    }
  printf ("Open %s to its first frame with messages (median of %u): %.1f ms, %.1f ms of the main thread's CPU time\n",
          bench.big_chat, runs, percentile (times, 50) / 1e3, percentile (cpu_times, 50) / 1e3);
  return percentile (times, 50) / 1e3;
}

static gboolean
older_read (void)
{
  CompanionMessageList *messages = companion_conversation_view_get_messages (conversation ());

  return g_list_model_get_n_items (G_LIST_MODEL (messages)) > bench.shown_before_scroll;
}

static gboolean
scroll_tick (GtkWidget     *widget,
             GdkFrameClock *clock,
             gpointer       user_data)
{
  GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (widget));
  gint64 now = gdk_frame_clock_get_frame_time (clock);

  /* A steady speed in time, whatever the frame rate. */
  if (bench.scroll_last != 0)
    gtk_adjustment_set_value (adjustment, MAX (0, gtk_adjustment_get_value (adjustment) -
                                                  SCROLL_PX_PER_S * (now - bench.scroll_last) / 1e6));
  bench.scroll_last = now;
  return G_SOURCE_CONTINUE;
}

static double
scroll (guint seconds)
{
  GtkWidget *list = GTK_WIDGET (companion_conversation_view_get_list_view (conversation ()));
  CompanionMessageList *messages = companion_conversation_view_get_messages (conversation ());
  guint before = g_list_model_get_n_items (G_LIST_MODEL (messages));
  guint tick, after;
  double p95;

  bench.scroll_last = 0;
  tick = gtk_widget_add_tick_callback (list, scroll_tick, NULL, NULL);
  spin (200);
  bench.recording = TRUE;
  spin (seconds * 1000);
  bench.recording = FALSE;
  /* A slow machine may still be reading the first older page. */
  bench.shown_before_scroll = before;
  wait_until (older_read, test_process_timeout_s (), "older messages");
  gtk_widget_remove_tick_callback (list, tick);
  after = g_list_model_get_n_items (G_LIST_MODEL (messages));

  check_messages_shown (messages);
  p95 = percentile (bench.intervals, 95) / 1e3;
  printf ("Scrolling up at %.0f px/s for %u s through %u messages (%u older ones read), %u frames:\n"
          "  frame interval p50 %.1f ms, p95 %.1f ms, max %.1f ms; "
          "frame work (before-paint to after-paint) p50 %.1f ms, p95 %.1f ms, max %.1f ms\n"
          "  its CPU time p50 %.1f ms, p95 %.1f ms, max %.1f ms\n",
          SCROLL_PX_PER_S, seconds, after, after - before, bench.intervals->len,
          percentile (bench.intervals, 50) / 1e3, p95, percentile (bench.intervals, 100) / 1e3,
          percentile (bench.work, 50) / 1e3, percentile (bench.work, 95) / 1e3, percentile (bench.work, 100) / 1e3,
          percentile (bench.work_cpu, 50) / 1e3, percentile (bench.work_cpu, 95) / 1e3,
          percentile (bench.work_cpu, 100) / 1e3);
  return p95;
}

static void
in_process (double *open_ms_out,
            double *scroll_p95_ms_out,
            gint64 *rss_kib_out)
{
  g_autoptr(CompanionKeyStore) key_store = NULL;
  g_autoptr(CompanionDesktopServer) server = NULL;
  g_autoptr(CompanionEngine) engine = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;
  GdkFrameClock *clock;
  gboolean fallback = FALSE;
  guint position;

  key_store = companion_key_store_open_desktop (bench.desk_dir, &fallback, &error);
  if (key_store == NULL)
    fail ("%s", error->message);
  server = companion_desktop_server_new (bench.desk_dir, key_store, &error);
  if (server == NULL || !companion_desktop_server_listen (server, G_INET_SOCKET_ADDRESS (address), &error))
    fail ("%s", error->message);
  engine = companion_engine_new (server, bench.desk_dir, &error);
  if (engine == NULL)
    fail ("%s", error->message);
  check (companion_desktop_server_is_paired (server), "the state folder is paired");

  bench.window = g_object_ref_sink (companion_window_new (NULL, engine, NULL));
  gtk_window_set_default_size (GTK_WINDOW (bench.window), 1000, 720);
  gtk_window_present (GTK_WINDOW (bench.window));
  wait_until (chats_loaded, test_process_timeout_s (), "the chat list");
  check (g_list_model_get_n_items (G_LIST_MODEL (companion_window_get_chat_list (bench.window))) == bench.chats,
         "every chat is listed");
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (bench.window));
  g_signal_connect (clock, "before-paint", G_CALLBACK (on_before_paint), NULL);
  g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), NULL);
  position = find_big_chat ();

  *open_ms_out = open_chat (position, bench.smoke ? 1 : 7);
  spin (500);
  *rss_kib_out = proc_status_kib ("VmRSS:");
  /* File-backed pages are mostly libraries: under Xvfb, GTK's GL probe
   * maps Mesa's software renderer (libLLVM) even with GSK_RENDERER=cairo. */
  printf ("This process with the chat list and %s shown: VmRSS %.1f MiB (anonymous %.1f, files %.1f), "
          "VmHWM %.1f MiB\n", bench.big_chat, *rss_kib_out / 1024.0, proc_status_kib ("RssAnon:") / 1024.0,
          proc_status_kib ("RssFile:") / 1024.0, proc_status_kib ("VmHWM:") / 1024.0);

  *scroll_p95_ms_out = scroll (bench.smoke ? 2 : 20);
  printf ("After scrolling: VmRSS %.1f MiB (anonymous %.1f, files %.1f), VmHWM %.1f MiB\n",
          proc_status_kib ("VmRSS:") / 1024.0, proc_status_kib ("RssAnon:") / 1024.0,
          proc_status_kib ("RssFile:") / 1024.0, proc_status_kib ("VmHWM:") / 1024.0);

  g_signal_handlers_disconnect_by_func (clock, on_before_paint, NULL);
  g_signal_handlers_disconnect_by_func (clock, on_after_paint, NULL);
  gtk_window_destroy (GTK_WINDOW (bench.window));
  g_clear_object (&bench.window);
  spin (100);
}

int
main (int   argc,
      char *argv[])
{
  const char *cache = g_getenv ("COMPANION_BENCH_CACHE");
  const char *spec;
  g_autofree char *root = NULL;
  g_autofree char *ready = NULL;
  g_autofree char *data_dirs = g_strdup (g_getenv ("XDG_DATA_DIRS") != NULL ? g_getenv ("XDG_DATA_DIRS")
                                                                             : "/usr/local/share:/usr/share");
  double cold_ms, open_ms, scroll_p95_ms;
  gint64 rss_kib;

  bench.smoke = argc == 3 && g_str_equal (argv[1], "--smoke");
  spec = argv[argc - 1];
  if (g_getenv ("COMPANION_CLI") == NULL || g_getenv ("COMPANION_PHONE") == NULL ||
      g_getenv ("COMPANION_APP") == NULL || argc < 2 || argc > 3 || (argc == 3 && !bench.smoke))
    {
      fprintf (stderr, "Usage: bench-gui [--smoke] SPEC with COMPANION_CLI, COMPANION_PHONE and COMPANION_APP set\n");
      return 2;
    }
  if (g_getenv ("DISPLAY") == NULL)
    {
      fprintf (stderr, "bench-gui: no X display: run under xvfb-run\n");
      return 77;
    }
  /* Generating a million messages alone takes longer than a test waits. */
  g_setenv ("COMPANION_TEST_TIMEOUT", bench.smoke ? "120" : "1200", FALSE);

  /* One folder per SPEC: keyring, data home and the desktop's state. */
  if (cache != NULL)
    {
      g_autofree char *name = g_strdup (spec);
      g_strcanon (name, "abcdefghijklmnopqrstuvwxyz0123456789", '_');
      root = g_build_filename (cache, name, NULL);
    }
  else
    root = g_dir_make_tmp ("companion-bench-gui-XXXXXX", NULL);
  ready = g_build_filename (root, "ready", NULL);
  bench.desk_dir = g_build_filename (root, "desktop", NULL);
  test_process_isolated_env (root, data_dirs);
  bench_program_env ();
  if (!mirror_usable (ready))
    {
      test_util_remove_tree (root);
      g_mkdir_with_parents (root, 0700);
      make_mirror (root, spec);
    }
  else
    printf ("Reusing the mirror of %s in %s\n", spec, root);

  bench.intervals = g_array_new (FALSE, FALSE, sizeof (gint64));
  bench.work = g_array_new (FALSE, FALSE, sizeof (gint64));
  bench.work_cpu = g_array_new (FALSE, FALSE, sizeof (gint64));
  check (companion_core_init (NULL), "the core starts");
  gtk_init ();
  adw_init ();
  read_expectations ();

  {
    g_autofree char *load = NULL;

    /* Times are wall clock: what else runs on the machine stretches them. */
    if (g_file_get_contents ("/proc/loadavg", &load, NULL, NULL))
      printf ("Load average: %s", load);
  }
  printf ("\nCold start of %s\n", g_getenv ("COMPANION_APP"));
  cold_start (bench.smoke ? 1 : 7, &cold_ms);
  printf ("\nIn this process: the real window, engine and mirror\n");
  in_process (&open_ms, &scroll_p95_ms, &rss_kib);

  printf ("\n");
  print_row ("cold start to first frame", cold_ms, "ms", "≤ 400 ms", cold_ms <= 400);
  print_row ("open 100k chat to first paint", open_ms, "ms", "≤ 100 ms", open_ms <= 100);
  print_row ("RSS with 1M mirrored", rss_kib / 1024.0, "MiB", "≤ 150 MiB", rss_kib / 1024.0 <= 150);
  print_row ("scroll frame time p95", scroll_p95_ms, "ms", "≤ 16.7 ms (60 Hz)", scroll_p95_ms <= 16.7);

  if (cache == NULL)
    test_util_remove_tree (root);
  g_free (bench.desk_dir);
  g_free (bench.big_chat);
  g_free (bench.newest_id);
  g_free (bench.newest_text);
  g_array_unref (bench.intervals);
  g_array_unref (bench.work);
  g_array_unref (bench.work_cpu);
  return 0;
}
