/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-upload-sender"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-media-transfer.h"
#include "companion-record.h"
#include "companion-upload-sender.h"

/* What the desktop offered to send with a command. */
typedef struct
{
  char    *client_id;
  char    *hash;
  guint64  size;
} Offer;

/* A file being sent. */
typedef struct
{
  char     *client_id;
  char     *hash;
  guint8    raw[COMPANION_MEDIA_HASH_LEN];
  int       fd;
  guint64   size;
  guint64   sent;     /* offset of the next chunk */
  guint64   acked;    /* the phone has everything before this */
  gboolean  end_sent;
} Upload;

struct _CompanionUploadSender
{
  GObject                 parent_instance;

  CompanionDesktopServer *server;
  CompanionMirrorStore   *store;
  GHashTable             *offers;   /* client id → Offer * */
  GQueue                  queue;    /* Upload * still to send, in request order */
  GHashTable             *uploads;  /* hash → Upload *: sending or awaiting acks */
  guint8                 *buffer;   /* one chunk */
  guint64                 bytes_sent;
};

G_DEFINE_FINAL_TYPE (CompanionUploadSender, companion_upload_sender, G_TYPE_OBJECT)

enum {
  SIGNAL_PROGRESS,
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
offer_free (Offer *offer)
{
  g_free (offer->client_id);
  g_free (offer->hash);
  g_free (offer);
}

static void
upload_free (Upload *upload)
{
  if (upload->fd >= 0)
    close (upload->fd);
  g_free (upload->client_id);
  g_free (upload->hash);
  g_free (upload);
}

static void
reset (CompanionUploadSender *self)
{
  g_queue_clear (&self->queue);
  g_hash_table_remove_all (self->uploads);
}

static void
drop_upload (CompanionUploadSender *self,
             const char            *hash)
{
  Upload *upload = g_hash_table_lookup (self->uploads, hash);

  if (upload == NULL)
    return;
  g_queue_remove (&self->queue, upload);
  g_hash_table_remove (self->uploads, hash);
}

static void
send_record (CompanionUploadSender *self,
             const char            *type,
             const char            *hash,
             gint64                 size)
{
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (record, "type", type);
  json_object_set_string_member (record, "hash", hash);
  if (size >= 0)
    json_object_set_int_member (record, "size", size);
  if (!companion_desktop_server_send_record (self->server, record, &error))
    g_debug ("Could not send %s for %s: %s", type, hash, error->message);
}

/* The file of CLIENT_ID cannot be sent: the phone drops what it has of it,
 * and the command fails. */
static void
fail (CompanionUploadSender *self,
      const char            *client_id,
      const char            *hash,
      GError                *error)
{
  g_autoptr(GError) owned = error;
  g_autofree char *id = g_strdup (client_id);
  g_autofree char *file_hash = g_strdup (hash);

  drop_upload (self, file_hash);
  g_hash_table_remove (self->offers, id);
  send_record (self, "upload-cancel", file_hash, -1);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, id, owned);
}

static guint64
in_flight (CompanionUploadSender *self)
{
  GHashTableIter iter;
  gpointer value;
  guint64 total = 0;

  g_hash_table_iter_init (&iter, self->uploads);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Upload *upload = value;

      total += upload->sent - upload->acked;
    }
  return total;
}

/* Sends while the window has room: chunks of the first file in line, its
 * upload-end, then the next one's. */
static void
pump (CompanionUploadSender *self)
{
  guint64 window = (guint64) COMPANION_MEDIA_WINDOW * COMPANION_MEDIA_CHUNK_SIZE;
  guint64 busy = in_flight (self);

  while (!g_queue_is_empty (&self->queue))
    {
      Upload *upload = g_queue_peek_head (&self->queue);
      g_autoptr(GError) error = NULL;

      if (upload->sent < upload->size)
        {
          guint8 header[COMPANION_MEDIA_CHUNK_HEADER_LEN];
          gsize want = (gsize) MIN ((guint64) COMPANION_MEDIA_CHUNK_SIZE, upload->size - upload->sent);

          if (busy + want > window)
            return; /* wait for an ack */
          if (!companion_media_read_chunk (upload->fd, self->buffer, want, upload->sent, &error))
            {
              fail (self, upload->client_id, upload->hash, g_steal_pointer (&error));
              continue;
            }
          companion_media_chunk_header (header, upload->raw, upload->sent);
          if (!companion_desktop_server_send_chunk (self->server, header, sizeof header,
                                                    self->buffer, want, &error))
            {
              g_debug ("Could not send file %s: %s", upload->hash, error->message);
              reset (self);
              return;
            }
          upload->sent += want;
          busy += want;
          self->bytes_sent += want;
        }
      else
        {
          send_record (self, "upload-end", upload->hash, (gint64) upload->size);
          g_queue_pop_head (&self->queue);
          upload->end_sent = TRUE;
          close (upload->fd);
          upload->fd = -1;
          if (upload->acked == upload->size)
            g_hash_table_remove (self->uploads, upload->hash);
        }
    }
}

static void
on_upload_request (CompanionDesktopServer *server,
                   const char             *type,
                   JsonObject             *record,
                   CompanionUploadSender  *self)
{
  const char *client_id = companion_json_get_string (record, "client_id");
  const char *hash = companion_json_get_string (record, "hash");
  gint64 offset = companion_json_get_int (record, "offset", -1);
  Offer *offer = client_id != NULL ? g_hash_table_lookup (self->offers, client_id) : NULL;
  g_autofree char *path = NULL;
  Upload *upload;
  struct stat st;
  int fd;

  /* Only what was offered, so the phone cannot read the desktop's media. */
  if (offer == NULL || g_strcmp0 (hash, offer->hash) != 0)
    {
      g_debug ("Ignoring an upload-request for a file not offered");
      return;
    }
  if (offset < 0 || (guint64) offset > offer->size)
    {
      fail (self, offer->client_id, offer->hash,
            g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_PROTOCOL,
                         "The phone asked for file %s from offset %" G_GINT64_FORMAT ", outside its %"
                         G_GUINT64_FORMAT " bytes", offer->hash, offset, offer->size));
      return;
    }
  /* Asked again: start over where the phone says. */
  drop_upload (self, hash);

  path = g_build_filename (companion_mirror_store_get_state_dir (self->store),
                           COMPANION_MIRROR_STORE_MEDIA_DIR, hash, NULL);
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || (guint64) st.st_size != offer->size)
    {
      if (fd >= 0)
        close (fd);
      fail (self, offer->client_id, offer->hash,
            g_error_new (COMPANION_MEDIA_TRANSFER_ERROR, COMPANION_MEDIA_TRANSFER_ERROR_UNKNOWN,
                         "The file to send (media %s, %" G_GUINT64_FORMAT " bytes) is no longer in "
                         "the desktop's media folder", offer->hash, offer->size));
      return;
    }

  upload = g_new0 (Upload, 1);
  upload->client_id = g_strdup (offer->client_id);
  upload->hash = g_strdup (hash);
  companion_media_hash_to_raw (hash, upload->raw);
  upload->fd = fd;
  upload->size = offer->size;
  upload->sent = upload->acked = (guint64) offset;
  g_hash_table_insert (self->uploads, upload->hash, upload);
  g_queue_push_tail (&self->queue, upload);
  g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, upload->client_id, upload->acked, upload->size);
  pump (self);
}

static void
on_upload_ack (CompanionDesktopServer *server,
               const char             *type,
               JsonObject             *record,
               CompanionUploadSender  *self)
{
  const char *hash = companion_json_get_string (record, "hash");
  gint64 offset = companion_json_get_int (record, "offset", -1);
  Upload *upload = hash != NULL ? g_hash_table_lookup (self->uploads, hash) : NULL;
  g_autofree char *client_id = NULL;
  guint64 size;

  if (upload == NULL)
    return;
  if (offset < 0 || (guint64) offset < upload->acked || (guint64) offset > upload->sent)
    {
      g_debug ("Ignoring an ack of file %s at %" G_GINT64_FORMAT " (sent %" G_GUINT64_FORMAT ")",
               hash, offset, upload->sent);
      return;
    }
  upload->acked = (guint64) offset;
  client_id = g_strdup (upload->client_id);
  size = upload->size;
  if (upload->end_sent && upload->acked == upload->size)
    g_hash_table_remove (self->uploads, hash);
  g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, client_id, (guint64) offset, size);
  pump (self);
}

static void
on_disconnected (CompanionUploadSender *self)
{
  /* Offers belong to a session: the outbox offers them again. */
  reset (self);
  g_hash_table_remove_all (self->offers);
}

void
companion_upload_sender_offer (CompanionUploadSender *self,
                               const char            *client_id,
                               const char            *hash,
                               guint64                size)
{
  Offer *offer;

  g_return_if_fail (COMPANION_IS_UPLOAD_SENDER (self));
  g_return_if_fail (client_id != NULL);
  g_return_if_fail (companion_record_id_is_valid (COMPANION_ENTITY_MEDIA, hash));

  offer = g_new0 (Offer, 1);
  offer->client_id = g_strdup (client_id);
  offer->hash = g_strdup (hash);
  offer->size = size;
  g_hash_table_replace (self->offers, offer->client_id, offer);
}

char *
companion_upload_sender_forget (CompanionUploadSender *self,
                                const char            *client_id)
{
  Offer *offer;
  Upload *upload;
  char *hash;

  g_return_val_if_fail (COMPANION_IS_UPLOAD_SENDER (self), NULL);
  g_return_val_if_fail (client_id != NULL, NULL);

  offer = g_hash_table_lookup (self->offers, client_id);
  if (offer == NULL)
    return NULL;
  hash = g_strdup (offer->hash);
  upload = g_hash_table_lookup (self->uploads, hash);
  if (upload != NULL && g_str_equal (upload->client_id, client_id))
    drop_upload (self, hash);
  g_hash_table_remove (self->offers, client_id);
  pump (self);
  return hash;
}

guint64
companion_upload_sender_get_bytes_sent (CompanionUploadSender *self)
{
  g_return_val_if_fail (COMPANION_IS_UPLOAD_SENDER (self), 0);
  return self->bytes_sent;
}

static void
companion_upload_sender_dispose (GObject *object)
{
  CompanionUploadSender *self = COMPANION_UPLOAD_SENDER (object);

  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);
  g_clear_object (&self->server);
  g_clear_object (&self->store);
  if (self->uploads != NULL)
    reset (self);

  G_OBJECT_CLASS (companion_upload_sender_parent_class)->dispose (object);
}

static void
companion_upload_sender_finalize (GObject *object)
{
  CompanionUploadSender *self = COMPANION_UPLOAD_SENDER (object);

  g_clear_pointer (&self->uploads, g_hash_table_unref);
  g_clear_pointer (&self->offers, g_hash_table_unref);
  g_clear_pointer (&self->buffer, g_free);

  G_OBJECT_CLASS (companion_upload_sender_parent_class)->finalize (object);
}

static void
companion_upload_sender_class_init (CompanionUploadSenderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = companion_upload_sender_dispose;
  object_class->finalize = companion_upload_sender_finalize;

  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT64);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
}

static void
companion_upload_sender_init (CompanionUploadSender *self)
{
  g_queue_init (&self->queue);
  self->offers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) offer_free);
  self->uploads = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) upload_free);
  self->buffer = g_malloc (COMPANION_MEDIA_CHUNK_SIZE);
}

CompanionUploadSender *
companion_upload_sender_new (CompanionDesktopServer *server,
                             CompanionMirrorStore   *store)
{
  CompanionUploadSender *self;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (server), NULL);
  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (store), NULL);

  self = g_object_new (COMPANION_TYPE_UPLOAD_SENDER, NULL);
  self->server = g_object_ref (server);
  self->store = g_object_ref (store);
  g_signal_connect (server, "session-record::upload-request", G_CALLBACK (on_upload_request), self);
  g_signal_connect (server, "session-record::upload-ack", G_CALLBACK (on_upload_ack), self);
  g_signal_connect_swapped (server, "disconnected", G_CALLBACK (on_disconnected), self);
  return self;
}
