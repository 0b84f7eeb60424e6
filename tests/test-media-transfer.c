/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Media transfer in process: a real desktop server and phone client on
 * loopback (CompanionFileKeyStore, so no libsecret), paired from the
 * desktop's code, synced, then media fetched chunk by chunk
 * (docs/protocol.md, "Media transfer"). */
#include "config.h"

#include <glib/gstdio.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

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

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, any, TRUE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
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
  p->request_offset = json_object_get_int_member (record, "offset");
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

/* A desktop listening on loopback and a phone with its store (not paired yet). */
static Pair *
pair_new (guint64 auto_limit)
{
  Pair *p = g_new0 (Pair, 1);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, free_port ());
  g_autoptr(GError) error = NULL;

  p->completed = g_ptr_array_new_with_free_func (g_free);
  p->failed = g_ptr_array_new_with_free_func (g_free);
  p->errors = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  p->media_errors = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  p->request_offset = -1;

  p->ddir = make_dir ();
  p->key_store = COMPANION_KEY_STORE (companion_file_key_store_new (p->ddir));
  p->server = companion_desktop_server_new (p->ddir, p->key_store, &error);
  g_assert_no_error (error);
  p->mirror = companion_mirror_store_open (p->ddir, &error);
  g_assert_no_error (error);
  p->dsync = companion_desktop_sync_new (p->server, p->mirror);
  p->media = companion_media_transfer_new (p->server, p->mirror, p->dsync);
  companion_media_transfer_set_auto_download_limit (p->media, auto_limit);
  g_signal_connect (p->server, "connected", G_CALLBACK (on_d_connected), p);
  g_signal_connect (p->server, "disconnected", G_CALLBACK (on_d_disconnected), p);
  g_signal_connect (p->server, "session-chunk", G_CALLBACK (on_d_chunk), p);
  g_signal_connect (p->server, "session-record::media-error", G_CALLBACK (on_d_media_error), p);
  g_signal_connect (p->dsync, "synced", G_CALLBACK (on_synced), p);
  g_signal_connect (p->media, "progress", G_CALLBACK (on_progress), p);
  g_signal_connect (p->media, "complete", G_CALLBACK (on_complete), p);
  g_signal_connect (p->media, "failed", G_CALLBACK (on_failed), p);
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

static gboolean
partial_exists (Pair       *p,
                const char *hash)
{
  g_autofree char *name = g_strconcat (".partial-", hash, NULL);
  g_autofree char *path = g_build_filename (p->ddir, COMPANION_MIRROR_STORE_MEDIA_DIR, name, NULL);

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

  /* The session goes on: the other one still comes. */
  g_assert_true (companion_media_transfer_request (p->media, kept, &error));
  WAIT_FOR (p->completed->len == 1);
  assert_identical (p, kept);
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

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  if (!companion_core_init (&error))
    g_error ("%s", error->message);

  base_dir = g_dir_make_tmp ("companion-test-media-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/media/sizes", test_sizes);
  g_test_add_func ("/media/resume", test_resume);
  g_test_add_func ("/media/wrong-bytes", test_wrong_bytes);
  g_test_add_func ("/media/unknown", test_unknown);
  g_test_add_func ("/media/auto-limit", test_auto_limit);
  g_test_add_func ("/media/memory", test_memory);
  g_test_add_func ("/media/chunk-judge", test_chunk_judge);

  status = g_test_run ();
  test_util_remove_tree (base_dir);
  g_free (base_dir);
  return status;
}
