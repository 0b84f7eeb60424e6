/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-media-sender"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "companion-media-sender.h"
#include "companion-media-transfer.h"
#include "companion-record.h"

#define HASH_LEN COMPANION_MEDIA_HASH_LEN

typedef struct
{
  char    *hash;
  guint8   raw[HASH_LEN];
  char    *path;
  int      fd;       /* opened when its turn comes, closed after its end */
  guint64  size;
  guint64  sent;     /* offset of the next chunk */
  guint64  acked;    /* the desktop has everything before this */
  gboolean end_sent;
} Transfer;

struct _CompanionMediaSender
{
  GObject               parent_instance;

  CompanionPhoneClient *client;
  CompanionPhoneStore  *store;
  GQueue                queue;      /* Transfer * still to send, in request order */
  GHashTable           *transfers;  /* hash → Transfer *: sending or awaiting acks */
  guint64               bytes_sent;
};

G_DEFINE_FINAL_TYPE (CompanionMediaSender, companion_media_sender, G_TYPE_OBJECT)

static void
transfer_free (Transfer *t)
{
  if (t->fd >= 0)
    close (t->fd);
  g_free (t->path);
  g_free (t->hash);
  g_free (t);
}

static void
send_error (CompanionMediaSender *self,
            const char           *hash,
            const char           *code,
            const char           *message)
{
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (record, "type", "media-error");
  if (hash != NULL)
    json_object_set_string_member (record, "hash", hash);
  json_object_set_string_member (record, "code", code);
  json_object_set_string_member (record, "message", message);
  if (!companion_phone_client_send_record (self->client, record, &error))
    g_debug ("Could not send media-error: %s", error->message);
}

static void
reset (CompanionMediaSender *self)
{
  g_queue_clear (&self->queue);
  g_hash_table_remove_all (self->transfers);
}

static guint64
in_flight (CompanionMediaSender *self)
{
  GHashTableIter iter;
  gpointer value;
  guint64 total = 0;

  g_hash_table_iter_init (&iter, self->transfers);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Transfer *t = value;

      total += t->sent - t->acked;
    }
  return total;
}

typedef struct
{
  Transfer *transfer;
  gboolean  failed;   /* the file could not be read, not the tunnel */
} ChunkRead;

/* Reads the next chunk of a transfer straight into the tunnel's buffer. */
static gboolean
read_into_chunk (guint8   *data,
                 gsize     len,
                 gpointer  user_data,
                 GError  **error)
{
  ChunkRead *source = user_data;

  source->failed = !companion_media_read_chunk (source->transfer->fd, data, len,
                                                source->transfer->sent, error);
  return !source->failed;
}

/* T, first in line, cannot be read: it is dropped and the desktop told. */
static void
drop_unreadable (CompanionMediaSender *self,
                 Transfer             *t,
                 const char           *reason)
{
  g_autofree char *message = g_strdup_printf ("Cannot read media %s: %s", t->hash, reason);
  g_autofree char *hash = g_strdup (t->hash);

  g_message ("%s", message);
  g_queue_pop_head (&self->queue);
  g_hash_table_remove (self->transfers, hash);
  send_error (self, hash, "io", message);
}

/* Sends while the window has room: chunks of the first media in line, its
 * media-end, then the next one's. */
static void
pump (CompanionMediaSender *self)
{
  guint64 window = (guint64) COMPANION_MEDIA_WINDOW * COMPANION_MEDIA_CHUNK_SIZE;
  guint64 busy = in_flight (self);

  while (!g_queue_is_empty (&self->queue))
    {
      Transfer *t = g_queue_peek_head (&self->queue);
      g_autoptr(GError) error = NULL;

      if (t->sent < t->size)
        {
          guint8 header[COMPANION_MEDIA_CHUNK_HEADER_LEN];
          ChunkRead source;
          gsize want = (gsize) MIN ((guint64) COMPANION_MEDIA_CHUNK_SIZE, t->size - t->sent);

          if (busy + want > window)
            return; /* wait for an ack */
          if (t->fd < 0 && (t->fd = g_open (t->path, O_RDONLY | O_CLOEXEC, 0)) < 0)
            {
              drop_unreadable (self, t, g_strerror (errno));
              continue;
            }
          companion_media_chunk_header (header, t->raw, t->sent);
          source.transfer = t;
          source.failed = FALSE;
          if (!companion_phone_client_send_chunk_filled (self->client, header, sizeof header, want,
                                                         read_into_chunk, &source, &error) &&
              source.failed)
            {
              drop_unreadable (self, t, error->message);
              continue;
            }
          if (error != NULL)
            {
              g_debug ("Could not send media %s: %s", t->hash, error->message);
              reset (self);
              return;
            }
          t->sent += want;
          busy += want;
          self->bytes_sent += want;
        }
      else
        {
          g_autoptr(JsonObject) end = json_object_new ();

          json_object_set_string_member (end, "type", "media-end");
          json_object_set_string_member (end, "hash", t->hash);
          json_object_set_int_member (end, "size", (gint64) t->size);
          if (!companion_phone_client_send_record (self->client, end, &error))
            {
              g_debug ("Could not send media-end: %s", error->message);
              reset (self);
              return;
            }
          g_queue_pop_head (&self->queue);
          t->end_sent = TRUE;
          if (t->fd >= 0)
            close (t->fd);
          t->fd = -1;
          if (t->acked == t->size)
            g_hash_table_remove (self->transfers, t->hash);
        }
    }
}

static void
on_media_request (CompanionPhoneClient *client,
                  const char           *type,
                  JsonObject           *record,
                  CompanionMediaSender *self)
{
  const char *hash = companion_json_get_string (record, "hash");
  gint64 offset = companion_json_get_int (record, "offset", -1);
  g_autofree char *path = NULL;
  Transfer *t;
  guint8 raw[HASH_LEN];
  GStatBuf st;

  if (!companion_media_hash_to_raw (hash, raw) || offset < 0)
    {
      send_error (self, hash, "invalid", "A media-request needs a hash (64 lowercase hex digits) "
                                         "and an offset of 0 or more");
      return;
    }
  /* Asked again (the desktop starts over): forget the earlier one. */
  t = g_hash_table_lookup (self->transfers, hash);
  if (t != NULL)
    {
      g_queue_remove (&self->queue, t);
      g_hash_table_remove (self->transfers, hash);
    }

  /* Bounded, and a file is only opened when its turn comes: a desktop
   * asking for thousands at once costs neither memory nor descriptors. */
  if (g_hash_table_size (self->transfers) >= COMPANION_MEDIA_MAX_REQUESTS)
    {
      g_autofree char *message = g_strdup_printf ("The phone holds %d media requests already",
                                                  COMPANION_MEDIA_MAX_REQUESTS);

      send_error (self, hash, "busy", message);
      return;
    }
  path = companion_phone_store_get_media_path (self->store, hash);
  if (path == NULL || g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_autofree char *message = g_strdup_printf ("The phone has no media %s", hash);

      send_error (self, hash, "unknown", message);
      return;
    }
  if ((guint64) offset > (guint64) st.st_size)
    {
      g_autofree char *message = g_strdup_printf ("Media %s has %" G_GUINT64_FORMAT " bytes, "
                                                  "fewer than the offset %" G_GINT64_FORMAT,
                                                  hash, (guint64) st.st_size, offset);

      send_error (self, hash, "bad-offset", message);
      return;
    }

  t = g_new0 (Transfer, 1);
  t->hash = g_strdup (hash);
  memcpy (t->raw, raw, HASH_LEN);
  t->path = g_steal_pointer (&path);
  t->fd = -1;
  t->size = (guint64) st.st_size;
  t->sent = t->acked = (guint64) offset;
  g_hash_table_insert (self->transfers, t->hash, t);
  g_queue_push_tail (&self->queue, t);
  pump (self);
}

static void
on_media_ack (CompanionPhoneClient *client,
              const char           *type,
              JsonObject           *record,
              CompanionMediaSender *self)
{
  const char *hash = companion_json_get_string (record, "hash");
  gint64 offset = companion_json_get_int (record, "offset", -1);
  Transfer *t = hash != NULL ? g_hash_table_lookup (self->transfers, hash) : NULL;

  if (t == NULL)
    return;
  if (offset < 0 || (guint64) offset < t->acked || (guint64) offset > t->sent)
    {
      g_debug ("Ignoring an ack of media %s at %" G_GINT64_FORMAT " (sent %" G_GUINT64_FORMAT ")",
               hash, offset, t->sent);
      return;
    }
  t->acked = (guint64) offset;
  if (t->end_sent && t->acked == t->size)
    g_hash_table_remove (self->transfers, hash);
  pump (self);
}

static void
on_media_cancel (CompanionPhoneClient *client,
                 const char           *type,
                 JsonObject           *record,
                 CompanionMediaSender *self)
{
  const char *hash = companion_json_get_string (record, "hash");
  Transfer *t = hash != NULL ? g_hash_table_lookup (self->transfers, hash) : NULL;

  if (t == NULL)
    return;
  g_queue_remove (&self->queue, t);
  g_hash_table_remove (self->transfers, hash);
  pump (self);
}

static void
on_disconnected (CompanionMediaSender *self)
{
  reset (self);
}

guint64
companion_media_sender_get_bytes_sent (CompanionMediaSender *self)
{
  g_return_val_if_fail (COMPANION_IS_MEDIA_SENDER (self), 0);
  return self->bytes_sent;
}

static void
companion_media_sender_dispose (GObject *object)
{
  CompanionMediaSender *self = COMPANION_MEDIA_SENDER (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->store);
  if (self->transfers != NULL)
    reset (self);

  G_OBJECT_CLASS (companion_media_sender_parent_class)->dispose (object);
}

static void
companion_media_sender_finalize (GObject *object)
{
  CompanionMediaSender *self = COMPANION_MEDIA_SENDER (object);

  g_clear_pointer (&self->transfers, g_hash_table_unref);

  G_OBJECT_CLASS (companion_media_sender_parent_class)->finalize (object);
}

static void
companion_media_sender_class_init (CompanionMediaSenderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_media_sender_dispose;
  object_class->finalize = companion_media_sender_finalize;
}

static void
companion_media_sender_init (CompanionMediaSender *self)
{
  g_queue_init (&self->queue);
  self->transfers = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) transfer_free);
}

CompanionMediaSender *
companion_media_sender_new (CompanionPhoneClient *client,
                            CompanionPhoneStore  *store)
{
  CompanionMediaSender *self;

  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (client), NULL);
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (store), NULL);

  self = g_object_new (COMPANION_TYPE_MEDIA_SENDER, NULL);
  self->client = g_object_ref (client);
  self->store = g_object_ref (store);
  g_signal_connect (client, "session-record::media-request", G_CALLBACK (on_media_request), self);
  g_signal_connect (client, "session-record::media-ack", G_CALLBACK (on_media_ack), self);
  g_signal_connect (client, "session-record::media-cancel", G_CALLBACK (on_media_cancel), self);
  g_signal_connect_swapped (client, "disconnected", G_CALLBACK (on_disconnected), self);
  return self;
}
