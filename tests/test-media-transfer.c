/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Media transfer in process: a real desktop server and phone client on
 * loopback (CompanionFileKeyStore, so no libsecret), paired from the
 * desktop's code, synced, then media fetched chunk by chunk
 * (docs/protocol.md, "Media transfer"). */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-core.h"
#include "companion-desktop-server.h"
#include "companion-desktop-sync.h"
#include "companion-file-key-store.h"
#include "companion-media-sender.h"
#include "companion-media-transfer.h"
#include "companion-mirror-store.h"
#include "companion-pairing-offer.h"
#include "companion-phone-client.h"
#include "companion-phone-store.h"
#include "companion-phone-sync.h"
#include "companion-record.h"

#include "test-loop.h"
#include "test-util.h"

#define MiB (1024 * 1024)

static char *base_dir;

/* ---- files ------------------------------------------------------------------- */

static char *
make_dir (void)
{
  static guint counter;
  char *dir = g_strdup_printf ("%s/state-%u", base_dir, ++counter);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  return dir;
}

/* Writes SIZE deterministic bytes (SEED) to PATH, a MiB at a time. */
static void
write_file (const char *path,
            guint64     size,
            guint       seed)
{
  g_autofree guint8 *buffer = g_malloc (MiB);
  FILE *f = fopen (path, "wb");
  guint64 done = 0;
  guint block = 0;

  g_assert_nonnull (f);
  while (done < size)
    {
      guint8 key[randombytes_SEEDBYTES] = { 0 };
      gsize n = (gsize) MIN ((guint64) MiB, size - done);

      memcpy (key, &seed, sizeof seed);
      memcpy (key + sizeof seed, &block, sizeof block);
      randombytes_buf_deterministic (buffer, n, key);
      g_assert_cmpuint (fwrite (buffer, 1, n, f), ==, n);
      done += n;
      block++;
    }
  g_assert_cmpint (fclose (f), ==, 0);
}

static gboolean
files_equal (const char *a,
             const char *b)
{
  g_autofree guint8 *x = g_malloc (MiB);
  g_autofree guint8 *y = g_malloc (MiB);
  FILE *fa = fopen (a, "rb");
  FILE *fb = fopen (b, "rb");
  gboolean equal = fa != NULL && fb != NULL;

  while (equal)
    {
      gsize na = fread (x, 1, MiB, fa);
      gsize nb = fread (y, 1, MiB, fb);

      if (na != nb || memcmp (x, y, na) != 0)
        equal = FALSE;
      if (na == 0 || na < MiB)
        break;
    }
  if (fa != NULL)
    fclose (fa);
  if (fb != NULL)
    fclose (fb);
  return equal;
}

static gsize
vm_rss_kib (void)
{
  g_autofree char *text = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return 0;
  line = strstr (text, "VmRSS:");
  return line != NULL ? (gsize) g_ascii_strtoull (line + 6, NULL, 10) : 0;
}

/* ---- a desktop and a phone --------------------------------------------------------- */

typedef struct
{
  char                   *ddir;
  char                   *pdir;
  CompanionKeyStore      *key_store;
  CompanionDesktopServer *server;
  CompanionMirrorStore   *mirror;
  CompanionDesktopSync   *dsync;
  CompanionMediaTransfer *media;

  CompanionPhoneStore    *pstore;
  CompanionPhoneClient   *client;
  CompanionPhoneSync     *psync;
  CompanionMediaSender   *sender;

  guint                   d_connected;
  guint                   d_disconnected;
  guint                   synced;
  GPtrArray              *completed;     /* char *hash */
  GPtrArray              *failed;        /* char *hash */
  GPtrArray              *errors;        /* GError *, parallel to failed */
  guint64                 received;      /* last "progress" */
  guint64                 chunk_bytes;   /* chunk data the desktop got */
  gint64                  request_offset;
  GPtrArray              *media_errors;  /* JsonObject * the desktop got */

  guint64                 stop_at;       /* cut the phone off at this progress */
  gboolean                stopped;
  gboolean                sample_rss;
  gsize                   max_rss;
  gint64                  all_received_at;

  /* Files from the desktop. */
  GPtrArray              *done;          /* char *client id: command-done */
  GPtrArray              *refused;       /* char *client id: command-failed */
  GPtrArray              *refusals;      /* GError *, parallel to refused */
  guint64                 upload_sent;   /* last "upload-progress" */
  gint64                  upload_offset; /* the phone's last upload-request */
  guint64                 upload_bytes;  /* chunk data the phone got */
  guint64                 upload_stop_at; /* cut the phone off at this upload progress */
} Pair;

static void
on_d_connected (CompanionDesktopServer *server, const char *name, Pair *p)
{
  p->d_connected++;
}

static void
on_d_disconnected (CompanionDesktopServer *server, GError *error, Pair *p)
{
  p->d_disconnected++;
}

static void
on_synced (CompanionDesktopSync *sync, guint64 cursor, Pair *p)
{
  p->synced++;
}

static void
on_d_chunk (CompanionDesktopServer *server, GBytes *header, GBytes *data, Pair *p)
{
  p->chunk_bytes += g_bytes_get_size (data);
}

static void
on_d_media_error (CompanionDesktopServer *server, const char *type, JsonObject *record, Pair *p)
{
  g_ptr_array_add (p->media_errors, json_object_ref (record));
}

static void
on_progress (CompanionMediaTransfer *media, const char *hash, guint64 received, guint64 size, Pair *p)
{
  g_assert_cmpuint (received, <=, size);
  p->received = received;
  if (received == size && p->all_received_at == 0)
    p->all_received_at = g_get_monotonic_time ();
  if (p->sample_rss && received % (4 * MiB) < COMPANION_MEDIA_ACK_EVERY * COMPANION_MEDIA_CHUNK_SIZE)
    p->max_rss = MAX (p->max_rss, vm_rss_kib ());
  if (p->stop_at > 0 && received >= p->stop_at && !p->stopped)
    {
      /* The phone goes away mid-file. */
      p->stopped = TRUE;
      companion_phone_client_stop (p->client);
    }
}

static void
on_complete (CompanionMediaTransfer *media, const char *hash, Pair *p)
{
  g_ptr_array_add (p->completed, g_strdup (hash));
}

static void
on_failed (CompanionMediaTransfer *media, const char *hash, GError *error, Pair *p)
{
  g_test_message ("media %s failed: %s", hash, error->message);
  g_ptr_array_add (p->failed, g_strdup (hash));
  g_ptr_array_add (p->errors, g_error_copy (error));
}

static void
on_p_media_request (CompanionPhoneClient *client, const char *type, JsonObject *record, Pair *p)
{
  p->request_offset = companion_json_get_int (record, "offset", -1);
}

static void
on_p_chunk (CompanionPhoneClient *client, GBytes *header, GBytes *data, Pair *p)
{
  p->upload_bytes += g_bytes_get_size (data);
}

static void
on_d_upload_request (CompanionDesktopServer *server, const char *type, JsonObject *record, Pair *p)
{
  p->upload_offset = json_object_get_int_member (record, "offset");
}

static void
on_command_done (CompanionDesktopSync *sync, const char *client_id, Pair *p)
{
  g_ptr_array_add (p->done, g_strdup (client_id));
}

static void
on_command_failed (CompanionDesktopSync *sync, const char *client_id, GError *error, Pair *p)
{
  g_test_message ("command %s failed: %s", client_id, error->message);
  g_ptr_array_add (p->refused, g_strdup (client_id));
  g_ptr_array_add (p->refusals, g_error_copy (error));
}

static void
on_upload_progress (CompanionDesktopSync *sync, const char *client_id, guint64 sent, guint64 size, Pair *p)
{
  g_assert_cmpuint (sent, <=, size);
  p->upload_sent = sent;
  if (p->sample_rss)
    p->max_rss = MAX (p->max_rss, vm_rss_kib ());
  if (p->upload_stop_at > 0 && sent >= p->upload_stop_at && !p->stopped)
    {
      p->stopped = TRUE;
      companion_phone_client_stop (p->client);
    }
}

static void
phone_open (Pair *p)
{
  g_autoptr(GError) error = NULL;

  p->client = companion_phone_client_new (p->pdir, "Media phone", &error);
  g_assert_no_error (error);
  companion_phone_client_set_timing (p->client, COMPANION_TUNNEL_PING_INTERVAL_MS,
                                     COMPANION_TUNNEL_IDLE_TIMEOUT_MS, 50, 200);
  p->psync = companion_phone_sync_new (p->client, p->pstore);
  p->sender = companion_media_sender_new (p->client, p->pstore);
  g_signal_connect (p->client, "session-record::media-request", G_CALLBACK (on_p_media_request), p);
  g_signal_connect (p->client, "session-chunk", G_CALLBACK (on_p_chunk), p);
}

static void
phone_close (Pair *p)
{
  if (p->client == NULL)
    return;
  g_signal_handlers_disconnect_by_data (p->client, p);
  companion_phone_client_stop (p->client);
  g_clear_object (&p->sender);
  g_clear_object (&p->psync);
  g_clear_object (&p->client);
}

/* The desktop's engine on its mirror (the server, with the pairing, stays). */
static void
desktop_open (Pair    *p,
              guint64  auto_limit)
{
  g_autoptr(GError) error = NULL;

  if (p->mirror == NULL)
    {
      p->mirror = companion_mirror_store_open (p->ddir, &error);
      g_assert_no_error (error);
    }
  p->dsync = companion_desktop_sync_new (p->server, p->mirror);
  p->media = companion_media_transfer_new (p->server, p->mirror, p->dsync);
  companion_media_transfer_set_auto_download_limit (p->media, auto_limit);
  g_signal_connect (p->dsync, "synced", G_CALLBACK (on_synced), p);
  g_signal_connect (p->dsync, "command-done", G_CALLBACK (on_command_done), p);
  g_signal_connect (p->dsync, "command-failed", G_CALLBACK (on_command_failed), p);
  g_signal_connect (p->dsync, "upload-progress", G_CALLBACK (on_upload_progress), p);
  g_signal_connect (p->media, "progress", G_CALLBACK (on_progress), p);
  g_signal_connect (p->media, "complete", G_CALLBACK (on_complete), p);
  g_signal_connect (p->media, "failed", G_CALLBACK (on_failed), p);
}

/* The desktop's engine stops: only what is on disk is left. */
static void
desktop_close (Pair *p)
{
  g_signal_handlers_disconnect_by_data (p->dsync, p);
  g_signal_handlers_disconnect_by_data (p->media, p);
  g_clear_object (&p->media);
  g_clear_object (&p->dsync);
  g_clear_object (&p->mirror);
}

/* A desktop listening on loopback and a phone with its store (not paired yet). */
static Pair *
pair_new (guint64 auto_limit)
{
  Pair *p = g_new0 (Pair, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, test_util_free_port ());
  g_autoptr(GError) error = NULL;

  p->completed = g_ptr_array_new_with_free_func (g_free);
  p->failed = g_ptr_array_new_with_free_func (g_free);
  p->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  p->media_errors = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  p->done = g_ptr_array_new_with_free_func (g_free);
  p->refused = g_ptr_array_new_with_free_func (g_free);
  p->refusals = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  p->request_offset = -1;
  p->upload_offset = -1;

  p->ddir = make_dir ();
  p->key_store = COMPANION_KEY_STORE (companion_file_key_store_new (p->ddir));
  p->server = companion_desktop_server_new (p->ddir, p->key_store, &error);
  g_assert_no_error (error);
  desktop_open (p, auto_limit);
  g_signal_connect (p->server, "connected", G_CALLBACK (on_d_connected), p);
  g_signal_connect (p->server, "disconnected", G_CALLBACK (on_d_disconnected), p);
  g_signal_connect (p->server, "session-chunk", G_CALLBACK (on_d_chunk), p);
  g_signal_connect (p->server, "session-record::media-error", G_CALLBACK (on_d_media_error), p);
  g_signal_connect (p->server, "session-record::upload-request", G_CALLBACK (on_d_upload_request), p);
  g_assert_true (companion_desktop_server_listen (p->server, G_INET_SOCKET_ADDRESS (address), &error));
  g_assert_no_error (error);

  p->pdir = make_dir ();
  p->pstore = companion_phone_store_open (p->pdir, &error);
  g_assert_no_error (error);
  phone_open (p);
  return p;
}

/* Adds a SIZE-byte media file to the phone; returns its hash. */
static char *
phone_add_media (Pair    *p,
                 guint64  size,
                 guint    seed)
{
  g_autofree char *source = g_strdup_printf ("%s/source-%u.bin", base_dir, seed);
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;
  char *hash;

  write_file (source, size, seed);
  hash = companion_phone_store_add_media_file (p->pstore, source, &error);
  g_assert_no_error (error);
  g_remove (source);

  json_object_set_string_member (record, "hash", hash);
  json_object_set_string_member (record, "kind", "document");
  json_object_set_string_member (record, "mime", "application/octet-stream");
  json_object_set_string_member (record, "name", "file.bin");
  json_object_set_int_member (record, "size", (gint64) size);
  g_ptr_array_add (changes, companion_change_new_upsert (0, COMPANION_ENTITY_MEDIA, record));
  g_assert_cmpuint (companion_phone_store_apply (p->pstore, changes, &error), >, 0);
  g_assert_no_error (error);
  return hash;
}

/* Pairs and waits for the first sync. */
static void
pair_connect (Pair *p)
{
  CompanionPairingOffer *offer = companion_desktop_server_get_offer (p->server);

  g_assert_nonnull (offer);
  companion_phone_client_pair (p->client, companion_pairing_offer_get_payload (offer));
  WAIT_FOR (p->d_connected >= 1 && p->synced >= 1);
}

static void
pair_free (Pair *p)
{
  phone_close (p);
  g_signal_handlers_disconnect_by_data (p->server, p);
  g_signal_handlers_disconnect_by_data (p->dsync, p);
  g_signal_handlers_disconnect_by_data (p->media, p);
  g_clear_object (&p->media);
  g_clear_object (&p->dsync);
  g_clear_object (&p->server);
  test_loop_spin (50);
  g_clear_object (&p->mirror);
  g_clear_object (&p->key_store);
  g_clear_object (&p->pstore);
  test_util_remove_tree (p->ddir);
  test_util_remove_tree (p->pdir);
  g_free (p->ddir);
  g_free (p->pdir);
  g_ptr_array_unref (p->completed);
  g_ptr_array_unref (p->failed);
  g_ptr_array_unref (p->errors);
  g_ptr_array_unref (p->media_errors);
  g_ptr_array_unref (p->done);
  g_ptr_array_unref (p->refused);
  g_ptr_array_unref (p->refusals);
  g_free (p);
}

static gboolean
has (GPtrArray  *hashes,
     const char *hash)
{
  for (guint i = 0; i < hashes->len; i++)
    if (g_str_equal (g_ptr_array_index (hashes, i), hash))
      return TRUE;
  return FALSE;
}

static CompanionMediaState
media_state (Pair       *p,
             const char *hash,
             guint64    *received)
{
  CompanionMediaState state;
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_mirror_store_get_media_state (p->mirror, hash, &state, received, &error));
  g_assert_no_error (error);
  return state;
}

static char *
partial_path (Pair       *p,
              const char *hash)
{
  g_autofree char *name = g_strconcat (".partial-", hash, NULL);

  return g_build_filename (p->ddir, COMPANION_MIRROR_STORE_MEDIA_DIR, name, NULL);
}

static gboolean
partial_exists (Pair       *p,
                const char *hash)
{
  g_autofree char *path = partial_path (p, hash);

  return g_file_test (path, G_FILE_TEST_EXISTS);
}

static void
assert_identical (Pair       *p,
                  const char *hash)
{
  g_autofree char *mine = companion_mirror_store_get_media_path (p->mirror, hash);
  g_autofree char *theirs = companion_phone_store_get_media_path (p->pstore, hash);

  g_assert_nonnull (mine);
  g_assert_cmpint (media_state (p, hash, NULL), ==, COMPANION_MEDIA_STATE_COMPLETE);
  g_assert_true (files_equal (mine, theirs));
  g_assert_false (partial_exists (p, hash));
}

/* ---- tests ------------------------------------------------------------------------- */

static void
test_sizes (void)
{
  static const guint64 sizes[] = {
    1, COMPANION_MEDIA_CHUNK_SIZE, COMPANION_MEDIA_CHUNK_SIZE + 1,
    10 * COMPANION_MEDIA_CHUNK_SIZE + 7, 32 * MiB,
  };
  Pair *p = pair_new (0);
  g_autoptr(GPtrArray) hashes = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    g_ptr_array_add (hashes, phone_add_media (p, sizes[i], 100 + i));
  pair_connect (p);

  /* Limit 0: nothing comes by itself. */
  test_loop_spin (200);
  g_assert_cmpuint (p->completed->len, ==, 0);
  g_assert_cmpuint (p->chunk_bytes, ==, 0);
  for (guint i = 0; i < hashes->len; i++)
    g_assert_cmpint (media_state (p, g_ptr_array_index (hashes, i), NULL), ==, COMPANION_MEDIA_STATE_ABSENT);

  for (guint i = 0; i < hashes->len; i++)
    {
      g_assert_true (companion_media_transfer_request (p->media, g_ptr_array_index (hashes, i), &error));
      g_assert_no_error (error);
    }
  WAIT_FOR (p->completed->len == hashes->len || p->failed->len > 0);
  g_assert_cmpuint (p->failed->len, ==, 0);
  for (guint i = 0; i < hashes->len; i++)
    {
      g_assert_true (has (p->completed, g_ptr_array_index (hashes, i)));
      assert_identical (p, g_ptr_array_index (hashes, i));
    }
  /* Each byte once. */
  g_assert_cmpuint (p->chunk_bytes, ==, 1 + 2 * COMPANION_MEDIA_CHUNK_SIZE + 1 +
                                        10 * COMPANION_MEDIA_CHUNK_SIZE + 7 + 32 * MiB);
  g_assert_cmpuint (companion_media_transfer_get_pending (p->media), ==, 0);

  /* Asking for a complete one again answers at once. */
  g_assert_true (companion_media_transfer_request (p->media, g_ptr_array_index (hashes, 0), &error));
  g_assert_cmpuint (p->completed->len, ==, hashes->len + 1);
  pair_free (p);
}

static void
test_resume (void)
{
  Pair *p = pair_new (0);
  g_autofree char *hash = phone_add_media (p, 32 * MiB, 7);
  g_autoptr(GError) error = NULL;
  guint64 kept = 0;
  guint disconnected;

  pair_connect (p);
  p->stop_at = 8 * MiB;
  disconnected = p->d_disconnected;
  g_assert_true (companion_media_transfer_request (p->media, hash, &error));
  WAIT_FOR (p->stopped && p->d_disconnected > disconnected);
  g_assert_cmpuint (p->failed->len, ==, 0);
  g_assert_cmpint (media_state (p, hash, &kept), ==, COMPANION_MEDIA_STATE_PARTIAL);
  g_assert_cmpuint (kept, >=, 8 * MiB);
  g_assert_cmpuint (kept, <, 32 * MiB);
  g_assert_cmpuint (kept % COMPANION_MEDIA_CHUNK_SIZE, ==, 0);
  g_assert_true (partial_exists (p, hash));
  g_test_message ("cut off after %" G_GUINT64_FORMAT " bytes", kept);

  /* The desktop restarts too: what is wanted comes from the mirror. */
  g_signal_handlers_disconnect_by_data (p->media, p);
  g_clear_object (&p->media);
  p->media = companion_media_transfer_new (p->server, p->mirror, p->dsync);
  companion_media_transfer_set_auto_download_limit (p->media, 0);
  g_signal_connect (p->media, "progress", G_CALLBACK (on_progress), p);
  g_signal_connect (p->media, "complete", G_CALLBACK (on_complete), p);
  g_signal_connect (p->media, "failed", G_CALLBACK (on_failed), p);

  /* The phone comes back: the partial one resumes by itself, and only the
   * rest is sent. */
  phone_close (p);
  p->stop_at = 0;
  p->chunk_bytes = 0;
  p->request_offset = -1;
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->completed->len == 1 || p->failed->len > 0);
  g_assert_cmpuint (p->failed->len, ==, 0);
  g_assert_cmpint (p->request_offset, ==, (gint64) kept);
  g_assert_cmpuint (p->chunk_bytes, ==, 32 * MiB - kept);
  g_assert_cmpuint (companion_media_sender_get_bytes_sent (p->sender), ==, 32 * MiB - kept);
  assert_identical (p, hash);
  pair_free (p);
}

/* Fetches HASH until the phone is cut off past STOP_AT, then stops the
 * desktop's engine too; returns what the mirror kept. */
static guint64
cut_off_and_restart (Pair       *p,
                     const char *hash,
                     guint64     stop_at)
{
  g_autoptr(GError) error = NULL;
  guint disconnected = p->d_disconnected;
  guint64 kept = 0;

  p->stop_at = stop_at;
  p->stopped = FALSE;
  g_assert_true (companion_media_transfer_request (p->media, hash, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->stopped && p->d_disconnected > disconnected);
  g_assert_cmpint (media_state (p, hash, &kept), ==, COMPANION_MEDIA_STATE_PARTIAL);
  g_assert_cmpuint (kept, >=, stop_at);
  phone_close (p);
  desktop_close (p);
  return kept;
}

/* The desktop and the phone come back; the partial media resumes by itself. */
static void
come_back (Pair *p)
{
  g_autoptr(GError) error = NULL;

  desktop_open (p, 0);
  p->stop_at = 0;
  p->chunk_bytes = 0;
  p->request_offset = -1;
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, &error));
  g_assert_no_error (error);
}

static void
test_resume_restart (void)
{
  Pair *p = pair_new (0);
  g_autofree char *intact = phone_add_media (p, 24 * MiB, 61);
  g_autofree char *altered = phone_add_media (p, 24 * MiB, 62);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  guint64 kept, received = 1;
  struct stat st;
  FILE *f;
  int byte;

  pair_connect (p);

  /* Bytes past the recorded progress (written before a crash) are dropped,
   * the rest is hashed again, and the file verifies at the end. */
  kept = cut_off_and_restart (p, intact, 6 * MiB);
  path = partial_path (p, intact);
  f = fopen (path, "ab");
  g_assert_nonnull (f);
  g_assert_cmpint (fputs ("written after the last record of progress", f), >=, 0);
  g_assert_cmpint (fclose (f), ==, 0);
  come_back (p);
  WAIT_FOR (p->completed->len == 1 || p->failed->len > 0);
  g_assert_cmpuint (p->failed->len, ==, 0);
  g_assert_cmpint (p->request_offset, ==, (gint64) kept);
  g_assert_cmpuint (p->chunk_bytes, ==, 24 * MiB - kept);
  assert_identical (p, intact);
  g_clear_pointer (&path, g_free);
  path = companion_mirror_store_get_media_path (p->mirror, intact);
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);

  /* A byte of the partial file changes while the desktop is down: only the
   * rest is fetched, and the end finds the mismatch; nothing is kept. */
  kept = cut_off_and_restart (p, altered, 6 * MiB);
  g_clear_pointer (&path, g_free);
  path = partial_path (p, altered);
  f = fopen (path, "r+b");
  g_assert_nonnull (f);
  g_assert_cmpint (fseek (f, (long) (kept / 2), SEEK_SET), ==, 0);
  byte = fgetc (f);
  g_assert_cmpint (byte, !=, EOF);
  g_assert_cmpint (fseek (f, (long) (kept / 2), SEEK_SET), ==, 0);
  g_assert_cmpint (fputc (byte ^ 0x5a, f), !=, EOF);
  g_assert_cmpint (fclose (f), ==, 0);
  come_back (p);
  WAIT_FOR (p->failed->len == 1);
  g_assert_cmpstr (g_ptr_array_index (p->failed, 0), ==, altered);
  g_assert_error ((GError *) g_ptr_array_index (p->errors, 0), COMPANION_MEDIA_TRANSFER_ERROR,
                  COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (p->errors, 0))->message, "not kept"));
  g_assert_cmpint (p->request_offset, ==, (gint64) kept);
  g_assert_cmpuint (p->chunk_bytes, ==, 24 * MiB - kept);
  g_assert_cmpint (media_state (p, altered, &received), ==, COMPANION_MEDIA_STATE_ABSENT);
  g_assert_cmpuint (received, ==, 0);
  g_assert_null (companion_mirror_store_get_media_path (p->mirror, altered));
  g_assert_false (partial_exists (p, altered));

  /* Asked for again, it comes whole. */
  g_assert_true (companion_media_transfer_request (p->media, altered, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->completed->len == 2 || p->failed->len > 1);
  g_assert_cmpuint (p->failed->len, ==, 1);
  assert_identical (p, altered);
  pair_free (p);
}

/* Replaces the phone's file of HASH with SIZE other bytes. */
static void
corrupt_phone_file (Pair       *p,
                    const char *hash,
                    guint64     size)
{
  g_autofree char *path = companion_phone_store_get_media_path (p->pstore, hash);

  g_remove (path);
  write_file (path, size, 999);
}

static void
test_wrong_bytes (void)
{
  Pair *p = pair_new (0);
  g_autofree char *same_size = phone_add_media (p, 200000, 21);
  g_autofree char *shorter = phone_add_media (p, 200000, 22);
  g_autofree char *longer = phone_add_media (p, 70000, 23);
  const char *hashes[] = { same_size, shorter, longer };
  g_autoptr(GError) error = NULL;

  pair_connect (p);
  corrupt_phone_file (p, same_size, 200000);
  corrupt_phone_file (p, shorter, 150000);
  corrupt_phone_file (p, longer, 140000);

  for (guint i = 0; i < G_N_ELEMENTS (hashes); i++)
    {
      guint64 received = 1;

      g_assert_true (companion_media_transfer_request (p->media, hashes[i], &error));
      WAIT_FOR (p->failed->len == i + 1);
      g_assert_cmpstr (g_ptr_array_index (p->failed, i), ==, hashes[i]);
      g_assert_error ((GError *) g_ptr_array_index (p->errors, i), COMPANION_MEDIA_TRANSFER_ERROR,
                      COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH);
      g_assert_nonnull (strstr (((GError *) g_ptr_array_index (p->errors, i))->message, "kept"));
      /* Nothing kept, and it can be asked for again. */
      g_assert_cmpint (media_state (p, hashes[i], &received), ==, COMPANION_MEDIA_STATE_ABSENT);
      g_assert_cmpuint (received, ==, 0);
      g_assert_null (companion_mirror_store_get_media_path (p->mirror, hashes[i]));
      g_assert_false (partial_exists (p, hashes[i]));
    }
  g_assert_cmpuint (p->completed->len, ==, 0);
  /* Still connected: the transfer failed, the session did not. */
  g_assert_true (companion_desktop_server_is_connected (p->server));

  /* The phone's file is right again: asked for at once, whatever of the
   * cancelled transfer was still on its way is told apart. */
  {
    g_autofree char *path = companion_phone_store_get_media_path (p->pstore, longer);

    g_remove (path);
    write_file (path, 70000, 23);
    g_assert_true (companion_media_transfer_request (p->media, longer, &error));
    WAIT_FOR (p->completed->len == 1 || p->failed->len > G_N_ELEMENTS (hashes));
    g_assert_cmpuint (p->failed->len, ==, G_N_ELEMENTS (hashes));
    assert_identical (p, longer);
  }
  pair_free (p);
}

static void
test_unknown (void)
{
  Pair *p = pair_new (0);
  g_autofree char *gone = phone_add_media (p, 5000, 31);
  g_autofree char *kept = phone_add_media (p, 5000, 32);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = json_object_new ();
  JsonObject *answer;

  pair_connect (p);

  /* Not in the mirror at all: refused at once. */
  g_assert_false (companion_media_transfer_request (p->media, "0123456789abcdef0123456789abcdef"
                                                              "0123456789abcdef0123456789abcdef", &error));
  g_assert_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN);
  g_clear_error (&error);
  g_assert_false (companion_media_transfer_request (p->media, "not a hash", &error));
  g_assert_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN);
  g_clear_error (&error);

  /* In the mirror, but the phone has no file. */
  path = companion_phone_store_get_media_path (p->pstore, gone);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_true (companion_media_transfer_request (p->media, gone, &error));
  WAIT_FOR (p->failed->len == 1);
  g_assert_error ((GError *) g_ptr_array_index (p->errors, 0), COMPANION_MEDIA_TRANSFER_ERROR,
                  COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (p->errors, 0))->message, "no such file"));
  g_assert_cmpint (media_state (p, gone, NULL), ==, COMPANION_MEDIA_STATE_ABSENT);
  g_assert_false (partial_exists (p, gone));

  /* An offset past the end, asked by hand. */
  json_object_set_string_member (request, "type", "media-request");
  json_object_set_string_member (request, "hash", kept);
  json_object_set_int_member (request, "offset", 5001);
  g_assert_true (companion_desktop_server_send_record (p->server, request, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->media_errors->len == 2);
  answer = g_ptr_array_index (p->media_errors, 1);
  g_assert_cmpstr (json_object_get_string_member (answer, "code"), ==, "bad-offset");
  g_assert_cmpstr (json_object_get_string_member (answer, "hash"), ==, kept);

  /* Members of the wrong JSON kind, both ways: refused or ignored, never
   * a critical (the tests make criticals fatal). */
  {
    g_autoptr(JsonObject) odd = test_util_json_object ("{\"type\": \"media-request\", \"hash\": {}, \"offset\": []}");
    g_autoptr(JsonObject) odd_error = test_util_json_object ("{\"type\": \"media-error\", \"hash\": [], "
                                                             "\"code\": {}, \"message\": [1]}");

    g_assert_true (companion_desktop_server_send_record (p->server, odd, &error));
    g_assert_no_error (error);
    WAIT_FOR (p->media_errors->len == 3);
    answer = g_ptr_array_index (p->media_errors, 2);
    g_assert_cmpstr (json_object_get_string_member (answer, "code"), ==, "invalid");
    g_assert_true (companion_phone_client_send_record (p->client, odd_error, &error));
    g_assert_no_error (error);
    WAIT_FOR (p->media_errors->len == 4);
    g_assert_cmpuint (p->failed->len, ==, 1);
  }

  /* The session goes on: the other one still comes. */
  g_assert_true (companion_media_transfer_request (p->media, kept, &error));
  WAIT_FOR (p->completed->len == 1);
  assert_identical (p, kept);
  pair_free (p);
}

static guint
open_descriptors (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static guint
count_codes (GPtrArray  *records,
             const char *code)
{
  guint n = 0;

  for (guint i = 0; i < records->len; i++)
    if (g_strcmp0 (companion_json_get_string (g_ptr_array_index (records, i), "code"), code) == 0)
      n++;
  return n;
}

static void
request_by_hand (Pair       *p,
                 const char *hash)
{
  g_autoptr(JsonObject) request = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (request, "type", "media-request");
  json_object_set_string_member (request, "hash", hash);
  json_object_set_int_member (request, "offset", 0);
  g_assert_true (companion_desktop_server_send_record (p->server, request, &error));
  g_assert_no_error (error);
}

/* A desktop that never acknowledges gets exactly the window of chunks; one
 * asking for more media than any needs at once: the phone opens a file
 * only when its turn comes, and holds at most COMPANION_MEDIA_MAX_REQUESTS
 * requests; the others are answered "busy". */
static void
test_many_requests (void)
{
  Pair *p = pair_new (0);
  g_autoptr(GPtrArray) hashes = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *large = phone_add_media (p, 2 * MiB, 99);
  guint64 window = (guint64) COMPANION_MEDIA_WINDOW * COMPANION_MEDIA_CHUNK_SIZE;
  guint extra = 20;
  guint before;

  for (guint i = 0; i < COMPANION_MEDIA_MAX_REQUESTS - 1 + extra; i++)
    g_ptr_array_add (hashes, phone_add_media (p, 70000, 100 + i));
  pair_connect (p);
  before = open_descriptors ();

  /* The window, at its edge: 16 chunks and not one more. */
  request_by_hand (p, large);
  WAIT_FOR (p->chunk_bytes >= window);
  test_loop_spin (200);
  g_assert_cmpuint (p->chunk_bytes, ==, window);

  for (guint i = 0; i < hashes->len; i++)
    request_by_hand (p, g_ptr_array_index (hashes, i));
  /* Nobody acknowledges these chunks: what the window holds stays held. */
  WAIT_FOR (count_codes (p->media_errors, "busy") >= extra);
  test_loop_spin (100);
  g_test_message ("%u requests: %u busy, descriptors %u → %u", hashes->len + 1,
                  count_codes (p->media_errors, "busy"), before, open_descriptors ());
  g_assert_cmpuint (count_codes (p->media_errors, "busy"), ==, extra);
  g_assert_cmpuint (open_descriptors (), <=, before + 4);
  g_assert_cmpuint (p->chunk_bytes, ==, window);
  g_assert_true (companion_desktop_server_is_connected (p->server));
  pair_free (p);
}

static void
test_auto_limit (void)
{
  Pair *p = pair_new (100000);
  g_autofree char *tiny = phone_add_media (p, 1000, 41);
  g_autofree char *at_limit = phone_add_media (p, 100000, 42);
  g_autofree char *over = phone_add_media (p, 100001, 43);
  g_autofree char *big = phone_add_media (p, 5 * MiB, 44);
  g_autoptr(CompanionMediaTransfer) fresh = NULL;
  guint64 limit = 0;

  pair_connect (p);
  WAIT_FOR (p->completed->len == 2);
  test_loop_spin (300);
  g_assert_cmpuint (p->completed->len, ==, 2);
  g_assert_cmpuint (p->failed->len, ==, 0);
  assert_identical (p, tiny);
  assert_identical (p, at_limit);
  g_assert_cmpint (media_state (p, over, NULL), ==, COMPANION_MEDIA_STATE_ABSENT);
  g_assert_cmpint (media_state (p, big, NULL), ==, COMPANION_MEDIA_STATE_ABSENT);
  g_assert_cmpuint (p->chunk_bytes, ==, 101000);

  /* The default limit is 16 MiB. */
  fresh = companion_media_transfer_new (p->server, p->mirror, NULL);
  g_object_get (fresh, "auto-download-limit", &limit, NULL);
  g_assert_cmpuint (limit, ==, 16 * MiB);
  g_clear_object (&fresh);
  pair_free (p);
}

static void
test_memory (void)
{
#ifdef __SANITIZE_ADDRESS__
  g_test_skip ("256 MiB in process is too slow under AddressSanitizer");
#else
  Pair *p = pair_new (0);
  g_autofree char *hash = phone_add_media (p, 256 * MiB, 51);
  g_autoptr(GError) error = NULL;
  gsize before;
  gint64 start, end;
  double transfer_s, total_s;

  pair_connect (p);
  test_loop_spin (100);
  before = vm_rss_kib ();
  p->max_rss = before;
  p->sample_rss = TRUE;
  start = g_get_monotonic_time ();
  g_assert_true (companion_media_transfer_request (p->media, hash, &error));
  WAIT_FOR (p->completed->len == 1 || p->failed->len > 0);
  end = g_get_monotonic_time ();
  p->max_rss = MAX (p->max_rss, vm_rss_kib ());
  g_assert_cmpuint (p->failed->len, ==, 0);

  transfer_s = (double) (p->all_received_at - start) / G_USEC_PER_SEC;
  total_s = (double) (end - start) / G_USEC_PER_SEC;
  g_test_message ("256 MiB: received in %.2f s (%.0f MB/s), verified and stored in %.2f s "
                  "(%.0f MB/s overall); RSS %zu KiB before, %zu KiB at most (+%zu KiB)",
                  transfer_s, 256.0 * MiB / 1e6 / transfer_s, total_s, 256.0 * MiB / 1e6 / total_s,
                  before, p->max_rss, p->max_rss - before);
  g_assert_cmpuint (p->max_rss - before, <, 64 * 1024);
  assert_identical (p, hash);
  pair_free (p);
#endif
}

/* ---- files from the desktop ---------------------------------------------------------- */

static gboolean
sanitized (void)
{
  return g_getenv ("COMPANION_TEST_SANITIZED") != NULL;
}

/* A contact and a direct chat "ch-up" with one message on the phone,
 * before pairing. */
static void
phone_add_chat (Pair *p)
{
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  g_autoptr(JsonObject) contact = test_util_json_object ("{\"id\":\"ct-up\",\"name\":\"Ada\"}");
  g_autoptr(JsonObject) chat = test_util_json_object (
    "{\"id\":\"ch-up\",\"kind\":\"direct\",\"title\":\"Ada\",\"participants\":[\"ct-up\"],"
    "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}");
  g_autoptr(JsonObject) message = test_util_json_object (
    "{\"id\":\"m-up\",\"chat\":\"ch-up\",\"from\":\"ct-up\",\"time\":1700000000000,"
    "\"text\":\"Send me the file?\",\"deleted\":false}");
  g_autoptr(GError) error = NULL;

  g_ptr_array_add (changes, companion_change_new_upsert (0, COMPANION_ENTITY_CONTACT, contact));
  g_ptr_array_add (changes, companion_change_new_upsert (0, COMPANION_ENTITY_CHAT, chat));
  g_ptr_array_add (changes, companion_change_new_upsert (0, COMPANION_ENTITY_MESSAGE, message));
  g_assert_cmpuint (companion_phone_store_apply (p->pstore, changes, &error), >, 0);
  g_assert_no_error (error);
}

static void
on_sent (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* companion_desktop_sync_send_file_async, waited for: the client id, or
 * NULL with ERROR. */
static char *
send_file (Pair        *p,
           const char  *chat,
           const char  *path,
           const char  *caption,
           GError     **error)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GAsyncResult) result = NULL;

  companion_desktop_sync_send_file_async (p->dsync, chat, file, caption, NULL, on_sent, &result);
  WAIT_FOR (result != NULL);
  return companion_desktop_sync_send_file_finish (p->dsync, result, error);
}

/* The phone and the mirror print the same export. */
static void
assert_exports_equal (Pair *p)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionExport) phone = companion_phone_store_export (p->pstore, &error);
  g_autoptr(CompanionExport) mirror = NULL;
  g_autofree char *phone_text = NULL;
  g_autofree char *mirror_text = NULL;

  g_assert_no_error (error);
  mirror = companion_mirror_store_export (p->mirror, &error);
  g_assert_no_error (error);
  phone_text = companion_export_to_string (phone, NULL);
  mirror_text = companion_export_to_string (mirror, NULL);
  g_assert_cmpstr (phone_text, ==, mirror_text);
}

static char *
upload_partial_path (Pair       *p,
                     const char *hash)
{
  g_autofree char *name = g_strconcat (".upload-", hash, NULL);

  return g_build_filename (p->pdir, COMPANION_PHONE_STORE_MEDIA_DIR, name, NULL);
}

/* The message CLIENT_ID and its media HASH reached the phone, came back as
 * changes, and the mirror has the file without downloading it. */
static void
assert_delivered (Pair       *p,
                  const char *client_id,
                  const char *source,
                  const char *caption)
{
  g_autoptr(JsonObject) message = NULL;
  g_autofree char *phone_file = NULL;
  g_autofree char *partial = NULL;
  const char *hash;

  WAIT_FOR ((message = companion_mirror_store_lookup (p->mirror, COMPANION_ENTITY_MESSAGE, client_id, NULL)) != NULL &&
            companion_desktop_sync_is_up_to_date (p->dsync));
  hash = json_object_get_string_member (message, "media");
  g_assert_nonnull (hash);
  g_assert_cmpstr (json_object_get_string_member (message, "chat"), ==, "ch-up");
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, caption != NULL ? caption : "");
  g_assert_false (json_object_has_member (message, "from"));

  phone_file = companion_phone_store_get_media_path (p->pstore, hash);
  g_assert_true (files_equal (source, phone_file));
  partial = upload_partial_path (p, hash);
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  WAIT_FOR (media_state (p, hash, NULL) == COMPANION_MEDIA_STATE_COMPLETE);
  assert_identical (p, hash);
  assert_exports_equal (p);
}

static void
test_upload_sizes (void)
{
  const guint64 big = (sanitized () ? 8 : 32) * MiB;
  const guint64 sizes[] = { 1, COMPANION_MEDIA_CHUNK_SIZE + 1, big };
  Pair *p = pair_new (64 * MiB);
  g_autoptr(GError) error = NULL;
  guint64 total = 0;
  gsize before;

  phone_add_chat (p);
  pair_connect (p);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *source = g_strdup_printf ("%s/send-%u.bin", base_dir, i);
      g_autofree char *caption = i == 1 ? NULL : g_strdup_printf ("file %u 📎", i);
      g_autofree char *client_id = NULL;

      write_file (source, sizes[i], 300 + i);
      test_loop_spin (50);
      before = vm_rss_kib ();
      p->max_rss = before;
      p->sample_rss = TRUE;
      client_id = send_file (p, "ch-up", source, caption, &error);
      g_assert_no_error (error);
      g_assert_nonnull (client_id);
      WAIT_FOR (p->done->len == i + 1 || p->refused->len > 0);
      p->sample_rss = FALSE;
      g_assert_cmpuint (p->refused->len, ==, 0);
      g_assert_cmpstr (g_ptr_array_index (p->done, i), ==, client_id);
      total += sizes[i];
      /* Each byte once, and the phone said it had all of it. */
      g_assert_cmpuint (p->upload_bytes, ==, total);
      g_assert_cmpuint (p->upload_sent, ==, sizes[i]);
      assert_delivered (p, client_id, source, caption);
      g_test_message ("%" G_GUINT64_FORMAT " bytes: RSS %zu KiB before, %zu KiB at most",
                      sizes[i], before, p->max_rss);
      /* Flat memory: neither side holds the file. */
      if (!sanitized ())
        g_assert_cmpuint (p->max_rss - before, <, 16 * 1024);
      g_remove (source);
    }
  /* The mirror had every file already: nothing came back. */
  g_assert_cmpuint (p->chunk_bytes, ==, 0);
  g_assert_cmpuint (p->failed->len, ==, 0);
  pair_free (p);
}

static void
test_upload_resume (void)
{
  const guint64 size = (sanitized () ? 8 : 32) * MiB;
  Pair *p = pair_new (0);
  g_autofree char *source = g_strdup_printf ("%s/resume.bin", base_dir);
  g_autofree char *client_id = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *partial = NULL;
  g_autoptr(GError) error = NULL;
  GStatBuf st;
  guint64 kept;

  phone_add_chat (p);
  pair_connect (p);
  write_file (source, size, 77);
  p->upload_stop_at = size / 4;
  client_id = send_file (p, "ch-up", source, NULL, &error);
  g_assert_no_error (error);
  WAIT_FOR (p->stopped && !companion_desktop_server_is_connected (p->server));
  g_assert_cmpint (p->upload_offset, ==, 0);
  g_assert_cmpuint (p->done->len, ==, 0);
  g_assert_cmpuint (p->refused->len, ==, 0);

  /* The phone kept what came, in its partial file. */
  {
    g_autoptr(JsonObject) command = NULL;
    g_autoptr(GPtrArray) outbox = companion_mirror_store_outbox_list (p->mirror, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (outbox->len, ==, 1);
    command = json_object_ref (((CompanionOutboxEntry *) g_ptr_array_index (outbox, 0))->command);
    hash = g_strdup (json_object_get_string_member (json_object_get_object_member (command, "upload"), "hash"));
  }
  partial = upload_partial_path (p, hash);
  g_assert_cmpint (g_stat (partial, &st), ==, 0);
  kept = (guint64) st.st_size;
  g_assert_cmpuint (kept, >=, size / 4);
  g_assert_cmpuint (kept, <, size);
  g_test_message ("cut off after %" G_GUINT64_FORMAT " bytes", kept);

  /* Both sides restart: the desktop's engine from its mirror and outbox,
   * the phone from its store and partial file. */
  desktop_close (p);
  desktop_open (p, 0);
  phone_close (p);
  p->upload_bytes = 0;
  p->upload_offset = -1;
  p->upload_stop_at = 0;
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->done->len == 1 || p->refused->len > 0);
  g_assert_cmpuint (p->refused->len, ==, 0);
  g_assert_cmpstr (g_ptr_array_index (p->done, 0), ==, client_id);
  /* Resumed where the phone's file ended: only the rest came. */
  g_assert_cmpint (p->upload_offset, ==, (gint64) kept);
  g_assert_cmpuint (p->upload_bytes, ==, size - kept);
  assert_delivered (p, client_id, source, NULL);
  g_remove (source);
  pair_free (p);
}

/* Replaces the desktop's copy of HASH with other bytes of the same size. */
static void
corrupt_desktop_file (Pair       *p,
                      const char *hash,
                      guint64     size)
{
  g_autofree char *path = g_build_filename (p->ddir, COMPANION_MIRROR_STORE_MEDIA_DIR, hash, NULL);

  g_assert_cmpint (g_remove (path), ==, 0);
  write_file (path, size, 4242);
}

static void
test_upload_tampered (void)
{
  Pair *p = pair_new (0);
  g_autofree char *source = g_strdup_printf ("%s/tampered.bin", base_dir);
  g_autofree char *client_id = NULL;
  g_autofree char *phone_file = NULL;
  g_autofree char *partial = NULL;
  g_autofree char *hash = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;
  GError *refusal;
  guint64 seq;

  phone_add_chat (p);
  pair_connect (p);
  seq = companion_phone_store_get_last_seq (p->pstore);

  /* The bytes sent are not those of the hash the message names. */
  phone_close (p);
  WAIT_FOR (!companion_desktop_server_is_connected (p->server));
  write_file (source, 300000, 55);
  client_id = send_file (p, "ch-up", source, "tampered", &error);
  g_assert_no_error (error);
  outbox = companion_mirror_store_outbox_list (p->mirror, &error);
  g_assert_no_error (error);
  hash = g_strdup (json_object_get_string_member (
    json_object_get_object_member (((CompanionOutboxEntry *) g_ptr_array_index (outbox, 0))->command, "upload"),
    "hash"));
  corrupt_desktop_file (p, hash, 300000);
  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, &error));
  WAIT_FOR (p->refused->len == 1);
  g_assert_cmpstr (g_ptr_array_index (p->refused, 0), ==, client_id);
  refusal = g_ptr_array_index (p->refusals, 0);
  g_assert_nonnull (strstr (refusal->message, "was not kept"));
  g_assert_nonnull (strstr (refusal->message, hash));
  g_assert_cmpuint (p->done->len, ==, 0);

  /* Nothing of it on the phone, and the command left the outbox. */
  phone_file = companion_phone_store_get_media_path (p->pstore, hash);
  partial = upload_partial_path (p, hash);
  g_assert_false (g_file_test (phone_file, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (partial, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (companion_phone_store_get_last_seq (p->pstore), ==, seq);
  g_assert_cmpint (companion_phone_store_has_media (p->pstore, hash, NULL), ==, 0);
  g_clear_pointer (&outbox, g_ptr_array_unref);
  outbox = companion_mirror_store_outbox_list (p->mirror, &error);
  g_assert_cmpuint (outbox->len, ==, 0);

  /* The session goes on: the same file, sent again unharmed, arrives. */
  g_free (client_id);
  client_id = send_file (p, "ch-up", source, "tampered", &error);
  g_assert_no_error (error);
  WAIT_FOR (p->done->len == 1 || p->refused->len > 1);
  g_assert_cmpuint (p->refused->len, ==, 1);
  assert_delivered (p, client_id, source, "tampered");
  g_remove (source);
  pair_free (p);
}

static void
assert_send_fails (Pair       *p,
                   const char *chat,
                   const char *path,
                   const char *caption,
                   int         code,
                   const char *words)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *client_id = send_file (p, chat, path, caption, &error);

  g_assert_null (client_id);
  g_assert_error (error, COMPANION_DESKTOP_SYNC_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, words));
}

static void
test_upload_bad_arguments (void)
{
  Pair *p = pair_new (0);
  g_autofree char *missing = g_strdup_printf ("%s/no-such-file", base_dir);
  g_autofree char *folder = g_strdup_printf ("%s/a-folder", base_dir);
  g_autofree char *empty = g_strdup_printf ("%s/empty", base_dir);
  g_autofree char *huge = g_strdup_printf ("%s/huge", base_dir);
  g_autofree char *locked = g_strdup_printf ("%s/locked", base_dir);
  g_autofree char *fine = g_strdup_printf ("%s/fine", base_dir);
  g_autofree char *long_caption = g_strnfill (49153, 'x');
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;
  FILE *f;

  phone_add_chat (p);
  pair_connect (p);
  g_assert_cmpint (g_mkdir (folder, 0700), ==, 0);
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  write_file (fine, 1000, 8);
  f = fopen (huge, "wb");
  g_assert_nonnull (f);
  /* Sparse: over the limit without writing it. */
  g_assert_cmpint (ftruncate (fileno (f), (off_t) COMPANION_DESKTOP_SYNC_MAX_FILE_SIZE + 1), ==, 0);
  fclose (f);

  assert_send_fails (p, "ch-up", missing, NULL, COMPANION_DESKTOP_SYNC_ERROR_NOT_FOUND, "no-such-file");
  assert_send_fails (p, "ch-up", folder, NULL, COMPANION_DESKTOP_SYNC_ERROR_NOT_REGULAR, "folder");
  assert_send_fails (p, "ch-up", "/dev/null", NULL, COMPANION_DESKTOP_SYNC_ERROR_NOT_REGULAR, "not a regular file");
  assert_send_fails (p, "ch-up", empty, NULL, COMPANION_DESKTOP_SYNC_ERROR_EMPTY, "empty");
  assert_send_fails (p, "ch-up", huge, NULL, COMPANION_DESKTOP_SYNC_ERROR_TOO_LARGE, "2 GiB");
  assert_send_fails (p, "ch-nope", fine, NULL, COMPANION_DESKTOP_SYNC_ERROR_UNKNOWN_CHAT, "ch-nope");
  assert_send_fails (p, "not an id!", fine, NULL, COMPANION_DESKTOP_SYNC_ERROR_UNKNOWN_CHAT, "not an id!");
  assert_send_fails (p, "ch-up", fine, long_caption, COMPANION_DESKTOP_SYNC_ERROR_INVALID, "caption");
  assert_send_fails (p, "ch-up", fine, "\xff\xfe", COMPANION_DESKTOP_SYNC_ERROR_INVALID, "caption");
  /* Root reads anything: the unreadable case needs an ordinary user. */
  if (geteuid () != 0)
    {
      write_file (locked, 1000, 9);
      g_assert_cmpint (g_chmod (locked, 0), ==, 0);
      assert_send_fails (p, "ch-up", locked, NULL, COMPANION_DESKTOP_SYNC_ERROR_UNREADABLE, "locked");
      g_chmod (locked, 0600);
    }

  /* Nothing was queued or copied. */
  outbox = companion_mirror_store_outbox_list (p->mirror, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 0);
  test_loop_spin (100);
  g_assert_cmpuint (p->upload_bytes, ==, 0);
  g_remove (huge);
  pair_free (p);
}

static void
test_upload_outbox_restart (void)
{
  Pair *p = pair_new (0);
  g_autofree char *source = g_strdup_printf ("%s/later.png", base_dir);
  g_autofree char *client_id = NULL;
  g_autoptr(GPtrArray) outbox = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) media = NULL;
  JsonObject *upload;

  phone_add_chat (p);
  pair_connect (p);
  phone_close (p);
  WAIT_FOR (!companion_desktop_server_is_connected (p->server));

  /* A PNG's bytes: the type is guessed from them. */
  {
    static const guint8 png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R' };

    g_assert_true (g_file_set_contents (source, (const char *) png, sizeof png, &error));
  }
  client_id = send_file (p, "ch-up", source, "later", &error);
  g_assert_no_error (error);

  /* The desktop restarts while the phone is away: the outbox keeps it. */
  desktop_close (p);
  desktop_open (p, 0);
  outbox = companion_mirror_store_outbox_list (p->mirror, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (outbox->len, ==, 1);
  g_assert_cmpstr (((CompanionOutboxEntry *) g_ptr_array_index (outbox, 0))->client_id, ==, client_id);
  upload = json_object_get_object_member (((CompanionOutboxEntry *) g_ptr_array_index (outbox, 0))->command,
                                          "upload");
  g_assert_cmpstr (json_object_get_string_member (upload, "kind"), ==, "image");
  g_assert_cmpstr (json_object_get_string_member (upload, "mime"), ==, "image/png");
  g_assert_cmpstr (json_object_get_string_member (upload, "name"), ==, "later.png");

  phone_open (p);
  g_assert_true (companion_phone_client_connect (p->client, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->done->len == 1 || p->refused->len > 0);
  g_assert_cmpuint (p->refused->len, ==, 0);
  assert_delivered (p, client_id, source, "later");
  media = companion_mirror_store_lookup (p->mirror, COMPANION_ENTITY_MEDIA,
                                         json_object_get_string_member (upload, "hash"), &error);
  g_assert_nonnull (media);
  g_assert_cmpstr (json_object_get_string_member (media, "mime"), ==, "image/png");
  g_remove (source);
  pair_free (p);
}

static const char * const system_mime_dirs[] = { "/usr/share/mime", "/usr/local/share/mime", NULL };

/* The desktop's check of each chunk, from its bytes alone. */
static void
test_chunk_judge (void)
{
  guint8 hash[32], header[COMPANION_MEDIA_CHUNK_HEADER_LEN];
  CompanionMediaChunkExpectation expect = { hash, 1000, 200, FALSE, 200 };
  guint64 offset = 0;

  memset (hash, 0xab, sizeof hash);
  memcpy (header, hash, sizeof hash);
  memset (header + 32, 0, 8);
  header[38] = 200 >> 8;
  header[39] = 200 & 0xff;

  /* Not a media header, or another media's. */
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, 39, 10, NULL), ==, COMPANION_MEDIA_CHUNK_IGNORE);
  header[0] ^= 1;
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, sizeof header, 10, NULL), ==,
                   COMPANION_MEDIA_CHUNK_IGNORE);
  header[0] ^= 1;
  /* In place. */
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, sizeof header, 800, &offset), ==,
                   COMPANION_MEDIA_CHUNK_ACCEPT);
  g_assert_cmpuint (offset, ==, 200);
  /* One byte more than the size leaves. */
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, sizeof header, 801, NULL), ==,
                   COMPANION_MEDIA_CHUNK_TOO_LONG);
  /* Before anything of this request came, another offset is what was still
   * on its way from an earlier request; after, it is out of place. */
  header[39] = 0;
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, sizeof header, 10, NULL), ==,
                   COMPANION_MEDIA_CHUNK_IGNORE);
  expect.answered = TRUE;
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, sizeof header, 10, &offset), ==,
                   COMPANION_MEDIA_CHUNK_OUT_OF_ORDER);
  g_assert_cmpuint (offset, ==, 0);
  /* Offsets near 2^64 do not wrap. */
  memset (header + 32, 0xff, 8);
  expect.size = G_MAXUINT64;
  expect.received = G_MAXUINT64;
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, sizeof header, 0, NULL), ==,
                   COMPANION_MEDIA_CHUNK_ACCEPT);
  g_assert_cmpint (companion_media_chunk_judge (&expect, header, sizeof header, 1, NULL), ==,
                   COMPANION_MEDIA_CHUNK_TOO_LONG);
}

/* The disk refuses the desktop's writes part-way (a file size limit, as a
 * full disk would): the download fails with a clear error, keeps only what
 * was written, and resumes from there once there is room. */
static void
test_write_fails (void)
{
  Pair *p = pair_new (0);
  g_autofree char *hash = phone_add_media (p, 12 * MiB, 31);
  g_autoptr(GError) error = NULL;
  struct rlimit old, limit;
  guint64 kept = 0;
  GError *failure;

  pair_connect (p);
  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &old), ==, 0);
  limit = old;
  limit.rlim_cur = 5 * MiB;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  g_assert_true (companion_media_transfer_request (p->media, hash, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->failed->len == 1);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &old), ==, 0);
  signal (SIGXFSZ, SIG_DFL);

  failure = g_ptr_array_index (p->errors, 0);
  g_assert_error (failure, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_IO);
  g_assert_nonnull (strstr (failure->message, "Cannot write"));
  g_assert_cmpint (media_state (p, hash, &kept), ==, COMPANION_MEDIA_STATE_PARTIAL);
  g_assert_cmpuint (kept, >=, 4 * MiB);
  g_assert_cmpuint (kept, <=, 5 * MiB);
  g_assert_cmpuint (kept % COMPANION_MEDIA_CHUNK_SIZE, ==, 0);
  g_assert_true (partial_exists (p, hash));
  /* The transfer failed, the session did not. */
  g_assert_true (companion_desktop_server_is_connected (p->server));

  p->request_offset = -1;
  g_assert_true (companion_media_transfer_request (p->media, hash, &error));
  g_assert_no_error (error);
  WAIT_FOR (p->completed->len == 1 || p->failed->len > 1);
  g_assert_cmpuint (p->failed->len, ==, 1);
  g_assert_cmpint (p->request_offset, ==, (gint64) kept);
  assert_identical (p, hash);
  pair_free (p);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  /* Files from the desktop get their type from the system's MIME database;
   * the isolated data folders have none. */
  g_content_type_set_mime_dirs (system_mime_dirs);
  if (!companion_core_init (&error))
    g_error ("%s", error->message);

  base_dir = g_dir_make_tmp ("companion-test-media-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/media/sizes", test_sizes);
  g_test_add_func ("/media/resume", test_resume);
  g_test_add_func ("/media/resume-restart", test_resume_restart);
  g_test_add_func ("/media/wrong-bytes", test_wrong_bytes);
  g_test_add_func ("/media/unknown", test_unknown);
  g_test_add_func ("/media/many-requests", test_many_requests);
  g_test_add_func ("/media/auto-limit", test_auto_limit);
  g_test_add_func ("/media/memory", test_memory);
  g_test_add_func ("/media/write-fails", test_write_fails);
  g_test_add_func ("/upload/sizes", test_upload_sizes);
  g_test_add_func ("/upload/resume", test_upload_resume);
  g_test_add_func ("/upload/tampered", test_upload_tampered);
  g_test_add_func ("/upload/bad-arguments", test_upload_bad_arguments);
  g_test_add_func ("/upload/outbox-restart", test_upload_outbox_restart);
  g_test_add_func ("/media/chunk-judge", test_chunk_judge);

  status = g_test_run ();
  test_util_remove_tree (base_dir);
  g_free (base_dir);
  return status;
}
