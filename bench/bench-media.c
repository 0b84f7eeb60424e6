/* SPDX-License-Identifier: GPL-3.0-or-later */
/* B1: a media file from the phone to the desktop through the encrypted
 * tunnel, with the real programs (companion-phone holds the file,
 * companion-cli downloads it on a `download` command), against a raw
 * libsoup WebSocket on loopback carrying the same bytes without encryption
 * in the same run. Also the growth of each program's peak resident memory
 * during the transfer, which must not depend on the file's size.
 *
 * Usage: bench-media [MIB…] (default 256 1024). The file is random bytes
 * made in a temporary folder, never kept.
 *
 * The baseline uses the same chunks (60 KiB of data after the same 40-byte
 * header) and the same flow control (16 chunks in flight, an
 * acknowledgement every 4): libsoup 3.2 has no send-side backpressure, so a
 * sender with bounded memory needs an application window, and with the
 * same one the ratio shows what encryption, records and the media store
 * cost rather than a different transport. The receiver writes and hashes
 * the bytes as it gets them, and checks the hash at the end. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench-report.h"
#include "bench-session.h"
#include "companion-media-transfer.h"
#include "companion-mirror-store.h"

#define MIB          (G_GUINT64_CONSTANT (1) << 20)
#define HASH_BYTES   32
#define HEADER_BYTES COMPANION_MEDIA_CHUNK_HEADER_LEN
#define CHUNK_BYTES  COMPANION_MEDIA_CHUNK_SIZE

/* The BLAKE2b-256 of a file as hex, read in pieces so memory stays small. */
static char *
hash_file (const char *path,
           guint64    *size_out)
{
  crypto_generichash_state state;
  guint8 hash[HASH_BYTES];
  char hex[HASH_BYTES * 2 + 1];
  g_autofree guint8 *buffer = g_malloc (MIB);
  guint64 size = 0;
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return NULL;
  crypto_generichash_init (&state, NULL, 0, HASH_BYTES);
  while ((n = read (fd, buffer, MIB)) > 0)
    {
      crypto_generichash_update (&state, buffer, (unsigned long long) n);
      size += (guint64) n;
    }
  close (fd);
  if (n < 0)
    return NULL;
  crypto_generichash_final (&state, hash, HASH_BYTES);
  sodium_bin2hex (hex, sizeof hex, hash, HASH_BYTES);
  *size_out = size;
  return g_strdup (hex);
}

/* SIZE random bytes into PATH (xorshift64*: fast, and no compression could
 * shrink them); returns their hash as hex. */
static char *
make_random_file (const char *path,
                  guint64     size)
{
  crypto_generichash_state state;
  guint8 hash[HASH_BYTES];
  char hex[HASH_BYTES * 2 + 1];
  g_autofree guint64 *buffer = g_malloc (MIB);
  guint64 x = 0x9E3779B97F4A7C15u, left = size;
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

  if (fd < 0)
    g_error ("Cannot create %s: %s", path, g_strerror (errno));
  crypto_generichash_init (&state, NULL, 0, HASH_BYTES);
  while (left > 0)
    {
      gsize n = (gsize) MIN (left, MIB), done = 0;

      for (gsize i = 0; i < MIB / sizeof (guint64); i++)
        {
          x ^= x >> 12;
          x ^= x << 25;
          x ^= x >> 27;
          buffer[i] = x * 0x2545F4914F6CDD1Du;
        }
      crypto_generichash_update (&state, (const guint8 *) buffer, n);
      while (done < n)
        {
          ssize_t w = write (fd, (const guint8 *) buffer + done, n - done);

          if (w < 0 && errno != EINTR)
            g_error ("Cannot write %s: %s", path, g_strerror (errno));
          done += w > 0 ? (gsize) w : 0;
        }
      left -= n;
    }
  close (fd);
  crypto_generichash_final (&state, hash, HASH_BYTES);
  sodium_bin2hex (hex, sizeof hex, hash, HASH_BYTES);
  return g_strdup (hex);
}

/* A fixture with one chat and one message showing the big file. */
static char *
write_fixture (const char *root,
               const char *hash,
               guint64     size)
{
  g_autofree char *path = g_build_filename (root, "fixture", "fixture.json", NULL);
  g_autofree char *text = g_strdup_printf (
    "{\"version\": 1,\n"
    " \"contacts\": [{\"id\": \"c-1\", \"name\": \"Sender\"}],\n"
    " \"media\": [{\"hash\": \"%s\", \"kind\": \"document\", \"mime\": \"application/octet-stream\",\n"
    "             \"name\": \"big.bin\", \"size\": %" G_GUINT64_FORMAT ", \"file\": \"big.bin\"}],\n"
    " \"chats\": [{\"id\": \"ch-1\", \"kind\": \"direct\", \"title\": \"Sender\", \"participants\": [\"c-1\"],\n"
    "            \"unread\": 0, \"pinned\": false, \"muted\": false, \"archived\": false}],\n"
    " \"messages\": [{\"id\": \"m-1\", \"chat\": \"ch-1\", \"from\": \"c-1\", \"time\": 1717200000000,\n"
    "                \"text\": \"\", \"media\": \"%s\", \"deleted\": false}]}\n",
    hash, size, hash);
  g_autoptr(GError) error = NULL;

  if (!g_file_set_contents (path, text, -1, &error))
    g_error ("%s", error->message);
  return g_steal_pointer (&path);
}

typedef struct
{
  double  seconds;
  double  received_seconds; /* to the last byte, before storing */
  gint64  desktop_growth_kib;
  gint64  phone_growth_kib;
} OursResult;

/* The real programs: the phone holds the file, the desktop downloads it. */
static gboolean
measure_ours (BenchSession *session,
              guint64       size,
              OursResult   *result,
              char        **phone_copy_out,
              char        **hash_out)
{
  g_autofree char *fixture_dir = g_build_filename (session->root, "fixture", NULL);
  g_autofree char *source = g_build_filename (fixture_dir, "big.bin", NULL);
  g_autofree char *hash = NULL, *fixture = NULL, *command = NULL, *stored = NULL, *stored_hash = NULL;
  g_autoptr(JsonObject) queued = NULL, complete = NULL;
  g_autoptr(CompanionMirrorStore) mirror = NULL;
  g_autoptr(GError) error = NULL;
  gint64 desktop_before, phone_before, started;
  guint64 stored_size = 0;
  const char *bad_requests[] = {
    "{\"type\": \"download\"}",
    "{\"type\": \"download\", \"hash\": 7}",
    "{\"type\": \"download\", \"hash\": \"0000000000000000000000000000000000000000000000000000000000000000\"}",
  };

  g_mkdir_with_parents (fixture_dir, 0700);
  hash = make_random_file (source, size);
  fixture = write_fixture (session->root, hash, size);
  bench_session_pair (session, "--fixture", fixture);
  g_unlink (source); /* the phone has its own copy now */

  /* New processes: loading the fixture maps the whole file, which would
   * hide any growth during the transfer in the peak. */
  bench_session_start (session, NULL);
  desktop_before = test_process_peak_rss_kib (session->desktop);
  phone_before = test_process_peak_rss_kib (session->phone);

  /* A bad request is refused with a reason, and the program goes on. */
  for (gsize i = 0; i < G_N_ELEMENTS (bad_requests); i++)
    {
      g_autoptr(JsonObject) refused = NULL;

      test_process_send (session->desktop, bad_requests[i]);
      refused = test_process_wait_event (session->desktop, "command-failed");
      if (strstr (json_object_get_string_member (refused, "reason"), "download") == NULL &&
          strstr (json_object_get_string_member (refused, "reason"), "media") == NULL)
        {
          fprintf (stderr, "A bad download request was refused without a clear reason\n");
          return FALSE;
        }
    }

  command = g_strdup_printf ("{\"type\": \"download\", \"hash\": \"%s\"}", hash);
  started = g_get_monotonic_time ();
  test_process_send (session->desktop, command);
  queued = test_process_wait_event (session->desktop, "download-queued");
  for (;;)
    {
      g_autoptr(JsonObject) progress = test_process_wait_event (session->desktop, "media-progress");

      if ((guint64) json_object_get_int_member (progress, "received") < size)
        continue;
      result->received_seconds = (json_object_get_int_member (progress, "monotonic_us") - started) / 1e6;
      break;
    }
  complete = test_process_wait_event (session->desktop, "media-complete");
  result->seconds = (json_object_get_int_member (complete, "monotonic_us") - started) / 1e6;
  result->desktop_growth_kib = test_process_peak_rss_kib (session->desktop) - desktop_before;
  result->phone_growth_kib = test_process_peak_rss_kib (session->phone) - phone_before;
  if (!bench_session_stop (session))
    {
      fprintf (stderr, "A program failed\n");
      return FALSE;
    }

  /* The desktop's copy, checked here too: every byte, in order. */
  mirror = companion_mirror_store_open (session->desktop_dir, &error);
  if (mirror == NULL)
    g_error ("%s", error->message);
  stored = companion_mirror_store_get_media_path (mirror, hash);
  stored_hash = stored != NULL ? hash_file (stored, &stored_size) : NULL;
  if (g_strcmp0 (stored_hash, hash) != 0 || stored_size != size)
    {
      fprintf (stderr, "The desktop's copy of the media is missing or differs\n");
      return FALSE;
    }
  g_unlink (stored); /* room on the disk for the baseline */
  *phone_copy_out = g_build_filename (session->phone_dir, "media", hash, NULL);
  *hash_out = g_steal_pointer (&hash);
  return TRUE;
}

/* The baseline's receiving side, in this process. */
typedef struct
{
  int                       fd;
  guint64                   size;
  guint64                   received;
  guint                     chunks;
  crypto_generichash_state  state;
  const char               *expected_hash;
  SoupWebsocketConnection  *connection;
  gint64                    started;
  gint64                    finished;
  gboolean                  verified;
  gboolean                  failed;
} Receiver;

static void
send_ack (SoupWebsocketConnection *connection,
          guint64                  offset)
{
  guint64 be = GUINT64_TO_BE (offset);

  soup_websocket_connection_send_binary (connection, &be, sizeof be);
}

static void
on_baseline_chunk (SoupWebsocketConnection *connection,
                   int                      type,
                   GBytes                  *message,
                   Receiver                *r)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (message, &length);
  guint64 offset;
  gsize n, done = 0;

  if (length <= HEADER_BYTES || r->finished != 0)
    {
      r->failed = TRUE;
      return;
    }
  memcpy (&offset, data + HASH_BYTES, sizeof offset);
  if (GUINT64_FROM_BE (offset) != r->received)
    {
      r->failed = TRUE;
      return;
    }
  n = length - HEADER_BYTES;
  crypto_generichash_update (&r->state, data + HEADER_BYTES, n);
  while (done < n)
    {
      ssize_t w = write (r->fd, data + HEADER_BYTES + done, n - done);

      if (w < 0 && errno != EINTR)
        {
          r->failed = TRUE;
          return;
        }
      done += w > 0 ? (gsize) w : 0;
    }
  r->received += n;
  if (++r->chunks % COMPANION_MEDIA_ACK_EVERY == 0 || r->received >= r->size)
    send_ack (connection, r->received);
  if (r->received >= r->size)
    {
      guint8 hash[HASH_BYTES];
      char hex[HASH_BYTES * 2 + 1];

      crypto_generichash_final (&r->state, hash, HASH_BYTES);
      sodium_bin2hex (hex, sizeof hex, hash, HASH_BYTES);
      r->finished = g_get_monotonic_time ();
      r->verified = r->received == r->size && g_str_equal (hex, r->expected_hash);
    }
}

static void
on_baseline_connection (SoupServer              *server,
                        SoupServerMessage       *msg,
                        const char              *path,
                        SoupWebsocketConnection *connection,
                        gpointer                 user_data)
{
  Receiver *r = user_data;

  if (r->connection != NULL)
    return; /* only the one sender */
  r->connection = g_object_ref (connection);
  soup_websocket_connection_set_keepalive_interval (connection, 0);
  g_signal_connect (connection, "message", G_CALLBACK (on_baseline_chunk), r);
  /* The clock starts at "go", as ours starts at the request. */
  r->started = g_get_monotonic_time ();
  send_ack (connection, 0);
}

static void
on_sender_exited (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  gboolean *done = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *done = TRUE;
}

static gboolean
measure_baseline (const char *path,
                  const char *hash,
                  guint64     size,
                  const char *scratch,
                  double     *seconds)
{
  g_autoptr(SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) sender = NULL;
  g_autofree char *url = NULL, *self_path = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *out = g_build_filename (scratch, "baseline.bin", NULL);
  GSList *uris;
  Receiver r = { 0 };
  gboolean sender_done = FALSE;

  r.fd = open (out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  r.size = size;
  r.expected_hash = hash;
  crypto_generichash_init (&r.state, NULL, 0, HASH_BYTES);
  soup_server_remove_websocket_extension (server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_websocket_handler (server, "/media", NULL, NULL, on_baseline_connection, &r, NULL);
  if (r.fd < 0 || !soup_server_listen_local (server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("Cannot set up the baseline: %s", error != NULL ? error->message : g_strerror (errno));
  uris = soup_server_get_uris (server);
  url = g_strdup_printf ("ws://127.0.0.1:%d/media", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  sender = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, self_path, "--baseline-sender", url, path, NULL);
  if (sender == NULL)
    g_error ("%s", error->message);
  g_subprocess_wait_async (sender, NULL, on_sender_exited, &sender_done);
  while (!sender_done)
    g_main_context_iteration (NULL, TRUE);
  if (r.connection != NULL)
    {
      g_signal_handlers_disconnect_by_data (r.connection, &r);
      g_object_unref (r.connection);
    }
  close (r.fd);
  g_unlink (out);
  *seconds = (r.finished - r.started) / 1e6;
  if (!r.verified || r.failed || !g_subprocess_get_if_exited (sender) || g_subprocess_get_exit_status (sender) != 0)
    {
      fprintf (stderr, "The baseline transfer failed or its bytes differ\n");
      return FALSE;
    }
  return TRUE;
}

/* The baseline's sending side, its own process as the phone is. */
typedef struct
{
  int                      fd;
  guint64                  size;
  guint64                  sent;
  guint64                  acked;
  guint8                  *buffer;
  SoupWebsocketConnection *connection;
  GMainLoop               *loop;
  int                      status;
} Sender;

static void
pump (Sender *s)
{
  guint64 window = (guint64) COMPANION_MEDIA_WINDOW * CHUNK_BYTES;

  while (s->sent < s->size && s->sent - s->acked < window)
    {
      gsize want = (gsize) MIN (CHUNK_BYTES, s->size - s->sent);
      guint64 be = GUINT64_TO_BE (s->sent);
      ssize_t n = pread (s->fd, s->buffer + HEADER_BYTES, want, (off_t) s->sent);

      if (n != (ssize_t) want)
        {
          s->status = 1;
          g_main_loop_quit (s->loop);
          return;
        }
      memcpy (s->buffer + HASH_BYTES, &be, sizeof be);
      soup_websocket_connection_send_binary (s->connection, s->buffer, HEADER_BYTES + want);
      s->sent += want;
    }
}

static void
on_ack (SoupWebsocketConnection *connection,
        int                      type,
        GBytes                  *message,
        Sender                  *s)
{
  guint64 be;

  if (g_bytes_get_size (message) != sizeof be)
    return;
  memcpy (&be, g_bytes_get_data (message, NULL), sizeof be);
  s->acked = GUINT64_FROM_BE (be);
  if (s->acked >= s->size)
    g_main_loop_quit (s->loop);
  else
    pump (s);
}

static void
on_sender_connected (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  Sender *s = user_data;
  g_autoptr(GError) error = NULL;

  s->connection = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (s->connection == NULL)
    {
      fprintf (stderr, "baseline: %s\n", error->message);
      s->status = 1;
      g_main_loop_quit (s->loop);
      return;
    }
  soup_websocket_connection_set_keepalive_interval (s->connection, 0);
  g_signal_connect (s->connection, "message", G_CALLBACK (on_ack), s);
}

static int
run_baseline_sender (const char *url,
                     const char *path)
{
  g_autoptr(SoupSession) session = soup_session_new ();
  g_autoptr(SoupMessage) message = soup_message_new ("GET", url);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Sender s = { 0 };
  struct stat st;

  s.fd = open (path, O_RDONLY | O_CLOEXEC);
  if (s.fd < 0 || fstat (s.fd, &st) != 0 || message == NULL)
    return 1;
  s.size = (guint64) st.st_size;
  s.buffer = g_malloc0 (HEADER_BYTES + CHUNK_BYTES);
  s.loop = loop;
  soup_session_websocket_connect_async (session, message, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        on_sender_connected, &s);
  g_main_loop_run (loop);
  if (s.connection != NULL)
    {
      soup_websocket_connection_close (s.connection, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
      while (soup_websocket_connection_get_state (s.connection) != SOUP_WEBSOCKET_STATE_CLOSED &&
             g_main_context_iteration (NULL, TRUE))
        ;
      g_signal_handlers_disconnect_by_data (s.connection, &s);
      g_object_unref (s.connection);
    }
  close (s.fd);
  g_free (s.buffer);
  return s.status;
}

static gboolean
bench_size (guint64 mib)
{
  BenchSession *session = bench_session_new ("bench-media");
  guint64 size = mib * MIB;
  OursResult ours = { 0 };
  g_autofree char *phone_copy = NULL, *hash = NULL, *name = NULL, *memory_name = NULL;
  double baseline_s = 0, ours_mbs, baseline_mbs, ratio;
  gint64 growth_kib;
  gboolean ok;

  ok = measure_ours (session, size, &ours, &phone_copy, &hash) &&
       measure_baseline (phone_copy, hash, size, session->root, &baseline_s);
  bench_session_free (session);
  if (!ok)
    return FALSE;

  ours_mbs = size / MIB / ours.seconds;
  baseline_mbs = size / MIB / baseline_s;
  ratio = ours_mbs / baseline_mbs;
  growth_kib = MAX (ours.desktop_growth_kib, ours.phone_growth_kib);
  printf ("%" G_GUINT64_FORMAT " MiB phone → desktop: ours %.2f s (%.0f MiB/s; all bytes in after %.2f s, "
          "then storing), raw WebSocket %.2f s (%.0f MiB/s); peak memory growth desktop %.1f MiB, phone %.1f MiB\n",
          mib, ours.seconds, ours_mbs, ours.received_seconds, baseline_s, baseline_mbs,
          ours.desktop_growth_kib / 1024.0, ours.phone_growth_kib / 1024.0);

  name = g_strdup_printf ("media %" G_GUINT64_FORMAT " MiB phone → desktop, encrypted tunnel, "
                          "request to stored and verified", mib);
  bench_report_row ("B1", name, ours_mbs, "MiB/s", baseline_mbs,
                    "raw libsoup WebSocket, no encryption, same chunks and window", ratio, "ratio ≥ 0.6",
                    ratio >= 0.6);
  memory_name = g_strdup_printf ("media %" G_GUINT64_FORMAT " MiB: peak resident memory growth, "
                                 "larger of desktop (%.1f) and phone (%.1f)", mib,
                                 ours.desktop_growth_kib / 1024.0, ours.phone_growth_kib / 1024.0);
  bench_report_row ("B1", memory_name, growth_kib / 1024.0, "MiB", NAN, NULL, NAN, "≤ 64 MiB each",
                    growth_kib <= 64 * 1024);
  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  const char *defaults[] = { "bench-media", "256", "1024" };

  if (argc == 4 && g_str_equal (argv[1], "--baseline-sender"))
    return run_baseline_sender (argv[2], argv[3]);
  if (sodium_init () < 0)
    return 1;
  if (argc == 1)
    {
      argc = G_N_ELEMENTS (defaults);
      argv = (char **) defaults;
    }

  printf ("Media phone → desktop on loopback (real companion-phone and companion-cli)\n");
  for (int i = 1; i < argc; i++)
    {
      guint64 mib = g_ascii_strtoull (argv[i], NULL, 10);

      /* Smaller files are downloaded on their own after the sync. */
      if (mib * MIB <= COMPANION_MEDIA_AUTO_DOWNLOAD_DEFAULT || mib > 4096)
        {
          fprintf (stderr, "Usage: bench-media [MIB…] (each more than %" G_GUINT64_FORMAT
                   ", the automatic download limit, and at most 4096; default 256 1024)\n",
                   COMPANION_MEDIA_AUTO_DOWNLOAD_DEFAULT / MIB);
          return 2;
        }
      /* A large file takes longer than a test's wait for one event. */
      if (mib >= 64 && g_getenv ("COMPANION_TEST_TIMEOUT") == NULL)
        g_setenv ("COMPANION_TEST_TIMEOUT", "600", TRUE);
      if (!bench_size (mib))
        return 1;
    }
  return 0;
}
