/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-upload-receiver"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-media-transfer.h"
#include "companion-record.h"
#include "companion-upload-receiver.h"

typedef struct
{
  char    *hash;
  guint64  size;
  guint64  received;   /* the partial file's length */
  guint    since_ack;
  int      fd;
  char    *path;
} Receiving;

struct _CompanionUploadReceiver
{
  GObject               parent_instance;

  CompanionPhoneClient *client;
  CompanionPhoneStore  *store;
  GHashTable           *receiving;  /* hash → Receiving * */
};

G_DEFINE_FINAL_TYPE (CompanionUploadReceiver, companion_upload_receiver, G_TYPE_OBJECT)

enum {
  SIGNAL_COMPLETE,
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
receiving_free (Receiving *r)
{
  if (r->fd >= 0)
    close (r->fd);
  g_free (r->hash);
  g_free (r->path);
  g_free (r);
}

static char *
partial_path (CompanionUploadReceiver *self,
              const char              *hash)
{
  g_autofree char *name = g_strconcat (".upload-", hash, NULL);

  return g_build_filename (companion_phone_store_get_state_dir (self->store),
                           COMPANION_PHONE_STORE_MEDIA_DIR, name, NULL);
}

static void
send_position (CompanionUploadReceiver *self,
               const char              *type,
               const char              *client_id,
               Receiving               *r)
{
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (record, "type", type);
  if (client_id != NULL)
    json_object_set_string_member (record, "client_id", client_id);
  json_object_set_string_member (record, "hash", r->hash);
  json_object_set_int_member (record, "offset", (gint64) r->received);
  r->since_ack = 0;
  if (!companion_phone_client_send_record (self->client, record, &error))
    g_debug ("Could not send %s for %s: %s", type, r->hash, error->message);
}

/* Ends the upload of HASH: nothing of it is kept. */
static void
fail (CompanionUploadReceiver *self,
      const char              *hash,
      GError                  *error)
{
  g_autoptr(GError) owned = error;
  g_autofree char *done = g_strdup (hash);
  Receiving *r = g_hash_table_lookup (self->receiving, done);

  if (r != NULL)
    g_unlink (r->path);
  g_hash_table_remove (self->receiving, done);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, done, owned);
}

static void
on_chunk (CompanionPhoneClient    *client,
          GBytes                  *header,
          GBytes                  *data,
          CompanionUploadReceiver *self)
{
  guint8 raw[COMPANION_MEDIA_HASH_LEN];
  char hash[COMPANION_MEDIA_HASH_LEN * 2 + 1];
  g_autoptr(GError) error = NULL;
  guint64 offset = 0;
  gsize len = 0;
  const guint8 *d = g_bytes_get_data (data, &len);
  Receiving *r;

  if (!companion_media_chunk_parse (header, raw, &offset))
    {
      g_debug ("Ignoring a chunk with a %" G_GSIZE_FORMAT "-byte header", g_bytes_get_size (header));
      return;
    }
  sodium_bin2hex (hash, sizeof hash, raw, sizeof raw);
  r = g_hash_table_lookup (self->receiving, hash);
  /* Not at the end of the partial file: sent before the desktop heard
   * where to resume; what is due follows. */
  if (r == NULL || r->fd < 0 || offset != r->received)
    return;
  if (len > r->size - r->received)
    {
      fail (self, hash,
            g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH,
                         "The desktop sent more of file %s than its %" G_GUINT64_FORMAT
                         " bytes; nothing of it was kept", hash, r->size));
      return;
    }
  if (!companion_media_write_chunk (r->fd, d, len, r->path, &error))
    {
      fail (self, hash, g_steal_pointer (&error));
      return;
    }
  r->received += len;
  if (++r->since_ack >= COMPANION_MEDIA_ACK_EVERY || r->received == r->size)
    send_position (self, "upload-ack", NULL, r);
}

static void
on_upload_end (CompanionPhoneClient    *client,
               const char              *type,
               JsonObject              *record,
               CompanionUploadReceiver *self)
{
  const char *hash = companion_json_get_string (record, "hash");
  gint64 size = companion_json_get_int (record, "size", -1);
  Receiving *r = hash != NULL ? g_hash_table_lookup (self->receiving, hash) : NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *done = NULL;

  if (r == NULL || r->fd < 0)
    return;
  done = g_strdup (r->hash);
  if (size < 0 || (guint64) size != r->size || r->received != r->size)
    {
      fail (self, done,
            g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH,
                         "File %s came with %" G_GUINT64_FORMAT " bytes (the desktop says %"
                         G_GINT64_FORMAT "), not the %" G_GUINT64_FORMAT " its record says; "
                         "nothing of it was kept", done, r->received, size, r->size));
      return;
    }
  if (fsync (r->fd) != 0)
    g_debug ("Could not flush %s: %s", r->path, g_strerror (errno));
  close (r->fd);
  r->fd = -1;
  if (!companion_phone_store_keep_media_file (self->store, r->path, done, &error))
    {
      fail (self, done,
            g_error_new (COMPANION_MEDIA_TRANSFER_ERROR,
                         g_error_matches (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_MEDIA)
                           ? COMPANION_MEDIA_TRANSFER_ERROR_MISMATCH : COMPANION_MEDIA_TRANSFER_ERROR_IO,
                         "File %s from the desktop was not kept: %s", done, error->message));
      return;
    }
  g_hash_table_remove (self->receiving, done);
  g_signal_emit (self, signals[SIGNAL_COMPLETE], 0, done);
}

static void
on_upload_cancel (CompanionPhoneClient    *client,
                  const char              *type,
                  JsonObject              *record,
                  CompanionUploadReceiver *self)
{
  const char *hash = companion_json_get_string (record, "hash");

  if (hash == NULL || !g_hash_table_contains (self->receiving, hash))
    return;
  fail (self, hash,
        g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN,
                     "The desktop cannot send file %s any more", hash));
}

static void
on_disconnected (CompanionUploadReceiver *self)
{
  /* The partial files stay: the desktop offers them again, and the next
   * request starts where they end. */
  g_hash_table_remove_all (self->receiving);
}

gboolean
companion_upload_receiver_fetch (CompanionUploadReceiver *self,
                                 const char              *client_id,
                                 const char              *hash,
                                 guint64                  size,
                                 GError                 **error)
{
  Receiving *r;
  struct stat st;

  g_return_val_if_fail (COMPANION_IS_UPLOAD_RECEIVER (self), FALSE);
  g_return_val_if_fail (client_id != NULL, FALSE);
  g_return_val_if_fail (companion_media_hash_to_raw (hash, NULL), FALSE);

  if (g_hash_table_contains (self->receiving, hash))
    return TRUE;

  r = g_new0 (Receiving, 1);
  r->hash = g_strdup (hash);
  r->size = size;
  r->path = partial_path (self, hash);
  r->fd = g_open (r->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (r->fd < 0 || fstat (r->fd, &st) != 0 ||
      ((guint64) st.st_size > size && ftruncate (r->fd, 0) != 0) ||
      lseek (r->fd, 0, SEEK_END) < 0)
    {
      int saved = errno;

      g_set_error (error, COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_IO,
                   "Cannot write “%s”: %s", r->path, g_strerror (saved));
      receiving_free (r);
      return FALSE;
    }
  /* What an earlier session left is kept: only the rest is asked for. */
  r->received = (guint64) st.st_size > size ? 0 : (guint64) st.st_size;
  g_hash_table_insert (self->receiving, r->hash, r);
  send_position (self, "upload-request", client_id, r);
  return TRUE;
}

static void
companion_upload_receiver_dispose (GObject *object)
{
  CompanionUploadReceiver *self = COMPANION_UPLOAD_RECEIVER (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->store);
  if (self->receiving != NULL)
    g_hash_table_remove_all (self->receiving);

  G_OBJECT_CLASS (companion_upload_receiver_parent_class)->dispose (object);
}

static void
companion_upload_receiver_finalize (GObject *object)
{
  CompanionUploadReceiver *self = COMPANION_UPLOAD_RECEIVER (object);

  g_clear_pointer (&self->receiving, g_hash_table_unref);

  G_OBJECT_CLASS (companion_upload_receiver_parent_class)->finalize (object);
}

static void
companion_upload_receiver_class_init (CompanionUploadReceiverClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = companion_upload_receiver_dispose;
  object_class->finalize = companion_upload_receiver_finalize;

  signals[SIGNAL_COMPLETE] = g_signal_new ("complete", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
}

static void
companion_upload_receiver_init (CompanionUploadReceiver *self)
{
  self->receiving = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) receiving_free);
}

CompanionUploadReceiver *
companion_upload_receiver_new (CompanionPhoneClient *client,
                               CompanionPhoneStore  *store)
{
  CompanionUploadReceiver *self;

  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (client), NULL);
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (store), NULL);

  self = g_object_new (COMPANION_TYPE_UPLOAD_RECEIVER, NULL);
  self->client = g_object_ref (client);
  self->store = g_object_ref (store);
  g_signal_connect (client, "session-chunk", G_CALLBACK (on_chunk), self);
  g_signal_connect (client, "session-record::upload-end", G_CALLBACK (on_upload_end), self);
  g_signal_connect (client, "session-record::upload-cancel", G_CALLBACK (on_upload_cancel), self);
  g_signal_connect_swapped (client, "disconnected", G_CALLBACK (on_disconnected), self);
  return self;
}
