/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-phone-sync"

#include "config.h"

#include "companion-phone-events.h"
#include "companion-phone-sync.h"
#include "companion-record.h"
#include "companion-sync-protocol.h"
#include "companion-upload-receiver.h"
#include "companion-tunnel.h"

#include <string.h>

typedef enum
{
  PHASE_IDLE,
  PHASE_CONTACTS,
  PHASE_CHATS,
  PHASE_PREVIEWS,  /* the media the previews show, then the previews */
  PHASE_MEDIA,
  PHASE_MESSAGES,
  PHASE_CALLS,
  PHASE_END,
  PHASE_LIVE,
} Phase;

struct _CompanionPhoneSync
{
  GObject               parent_instance;

  CompanionPhoneClient *client;
  CompanionPhoneStore  *store;
  CompanionPhoneEvents *events;        /* carries out the desktop's commands */
  CompanionUploadReceiver *uploads;    /* files that come with commands */
  GHashTable           *waiting;       /* client id → command record waiting for its file */

  Phase                 phase;
  guint64               snapshot_seq;  /* the log position the snapshot shows */
  guint64               sent_seq;      /* the last change sent */
  guint                 pages_sent;
  guint                 in_flight;     /* pages and batches not acknowledged yet */
  GQueue                pending;       /* CompanionRecordText of the current phase */
  CompanionEntity       pending_entity;
  gboolean              phase_listed;  /* the current phase's list is read up */
  gboolean              must_answer;   /* a sync-request not answered yet */
  gboolean              previews_queued; /* refill: this read was the previews */
  gboolean              list_committed; /* the chat list is acknowledged: history may follow */
  GPtrArray            *previews;      /* each chat's newest message, sent first (texts) */
  GPtrArray            *preview_media; /* the media they show, sent before them */

  /* Keyset positions within the long phases. */
  char                 *after_key;
  gint64                before_time;
};

G_DEFINE_FINAL_TYPE (CompanionPhoneSync, companion_phone_sync, G_TYPE_OBJECT)

enum {
  SIGNAL_FAILED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void pump (CompanionPhoneSync *self);

static void
fail (CompanionPhoneSync *self,
      GError             *error)
{
  g_warning ("Sync stopped: %s", error->message);
  self->phase = PHASE_IDLE;
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
  g_error_free (error);
}

static void
clear_pending (CompanionPhoneSync *self)
{
  g_queue_clear_full (&self->pending, (GDestroyNotify) companion_record_text_free);
}

/* Takes the texts out of RECORDS into the queue; the next page of the phase
 * starts after the last of them. */
static void
queue_records (CompanionPhoneSync *self,
               CompanionEntity     entity,
               GPtrArray          *records,
               gboolean            moves_position)
{
  self->pending_entity = entity;
  if (records->len == 0)
    return;
  if (moves_position)
    {
      CompanionRecordText *last = g_ptr_array_index (records, records->len - 1);

      g_free (self->after_key);
      self->after_key = g_strdup (last->key);
      self->before_time = last->time;
    }
  /* The queue owns the texts from here on. */
  g_ptr_array_set_free_func (records, NULL);
  for (guint i = 0; i < records->len; i++)
    g_queue_push_tail (&self->pending, g_ptr_array_index (records, i));
}

/* Refills the queue from the store for the current phase; moves on to the
 * next phase when this one is read up. Records travel as the store keeps
 * them (canonical JSON), never parsed on the way. FALSE on a store error. */
static gboolean
refill (CompanionPhoneSync *self)
{
  g_autoptr(GError) error = NULL;

  while (g_queue_is_empty (&self->pending) && self->phase < PHASE_END)
    {
      g_autoptr(GPtrArray) records = NULL;
      CompanionEntity entity;

      if (self->phase_listed)
        {
          self->phase++;
          self->phase_listed = FALSE;
          g_clear_pointer (&self->after_key, g_free);
          self->before_time = G_MAXINT64;
          continue;
        }

      switch (self->phase)
        {
        case PHASE_CONTACTS:
          entity = COMPANION_ENTITY_CONTACT;
          records = companion_phone_store_read_texts (self->store, entity, 0, NULL, 0, &error);
          self->phase_listed = TRUE;
          break;

        case PHASE_CHATS:
          /* Chats, then each chat's newest message (with the media it
           * shows): the chat list with its previews comes before all else. */
          entity = COMPANION_ENTITY_CHAT;
          g_clear_pointer (&self->previews, g_ptr_array_unref);
          g_clear_pointer (&self->preview_media, g_ptr_array_unref);
          records = companion_phone_store_read_chat_texts (self->store, &self->previews,
                                                           &self->preview_media, &error);
          self->phase_listed = TRUE;
          break;

        case PHASE_PREVIEWS:
          /* Read with the chats; the media come again, harmlessly, with
           * all the others. */
          if (self->preview_media != NULL)
            {
              entity = COMPANION_ENTITY_MEDIA;
              records = g_steal_pointer (&self->preview_media);
            }
          else
            {
              entity = COMPANION_ENTITY_MESSAGE;
              records = g_steal_pointer (&self->previews);
            }
          if (records == NULL)
            records = g_ptr_array_new ();
          self->phase_listed = self->previews == NULL;
          self->previews_queued = TRUE;
          break;

        case PHASE_MESSAGES:
          entity = COMPANION_ENTITY_MESSAGE;
          records = companion_phone_store_read_texts (self->store, entity, self->before_time,
                                                      self->after_key, COMPANION_SYNC_LIST_PAGE, &error);
          self->phase_listed = records != NULL && records->len == 0;
          break;

        case PHASE_MEDIA:
        case PHASE_CALLS:
          entity = self->phase == PHASE_MEDIA ? COMPANION_ENTITY_MEDIA : COMPANION_ENTITY_CALL;
          records = companion_phone_store_read_texts (self->store, entity, 0, self->after_key,
                                                      COMPANION_SYNC_LIST_PAGE, &error);
          self->phase_listed = records != NULL && records->len == 0;
          break;

        default:
          g_assert_not_reached ();
        }

      if (records == NULL)
        {
          fail (self, g_steal_pointer (&error));
          return FALSE;
        }
      /* The chat list does not move the keyset position of what follows. */
      queue_records (self, entity, records, entity != COMPANION_ENTITY_CHAT && !self->previews_queued);
      self->previews_queued = FALSE;
    }
  return TRUE;
}

static gboolean
send (CompanionPhoneSync *self,
      JsonObject         *record)
{
  g_autoptr(GError) error = NULL;

  if (!companion_phone_client_send_record (self->client, record, &error))
    {
      /* The session ended; the next sync-request starts over. */
      g_debug ("Sync paused: %s", error->message);
      self->phase = PHASE_IDLE;
      return FALSE;
    }
  self->in_flight++;
  return TRUE;
}

static gboolean
send_snapshot_page (CompanionPhoneSync *self)
{
  g_autoptr(GString) page = g_string_sized_new (COMPANION_TUNNEL_RECORD_TEXT_MAX);
  static const char tail[] = "],\"type\":\"snapshot\"}";
  g_autoptr(GError) error = NULL;
  guint count = 0;

  /* The page is written around the stored texts (keys in canonical order),
   * whole records up to one transport message; a record always fits alone. */
  g_string_append_printf (page, "{\"entity\":\"%s\",\"page\":%u,\"records\":[",
                          companion_entity_to_string (self->pending_entity), ++self->pages_sent);
  while (!g_queue_is_empty (&self->pending))
    {
      CompanionRecordText *record = g_queue_peek_head (&self->pending);

      if (count > 0 && page->len + 1 + record->length + strlen (tail) > COMPANION_TUNNEL_RECORD_TEXT_MAX)
        break;
      if (count++ > 0)
        g_string_append_c (page, ',');
      g_string_append_len (page, record->json, (gssize) record->length);
      companion_record_text_free (g_queue_pop_head (&self->pending));
    }
  g_string_append (page, tail);

  if (!companion_phone_client_send_record_text (self->client, page->str, page->len, &error))
    {
      /* The session ended; the next sync-request starts over. */
      g_debug ("Sync paused: %s", error->message);
      self->phase = PHASE_IDLE;
      return FALSE;
    }
  self->in_flight++;
  return TRUE;
}

static gboolean
send_changes (CompanionPhoneSync *self)
{
  g_autoptr(GPtrArray) changes = NULL;
  g_autoptr(JsonObject) batch = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *list;
  gsize bytes = 0;

  changes = companion_phone_store_get_changes_after (self->store, self->sent_seq,
                                                     COMPANION_SYNC_LIST_PAGE, &error);
  if (changes == NULL)
    {
      fail (self, g_steal_pointer (&error));
      return FALSE;
    }
  /* Every sync-request is answered: an empty batch says "up to date". */
  if (changes->len == 0 && !self->must_answer)
    return FALSE;
  self->must_answer = FALSE;

  list = json_array_new ();
  for (guint i = 0; i < changes->len; i++)
    {
      CompanionChange *change = g_ptr_array_index (changes, i);
      JsonObject *object = companion_change_to_json (change);
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);
      gsize size = 0;
      g_autofree char *text = companion_canonical_json (node, &size);

      if (json_array_get_length (list) > 0 && bytes + size > COMPANION_SYNC_PAGE_BUDGET)
        {
          json_object_unref (object);
          break;
        }
      bytes += size + 1;
      json_array_add_object_element (list, object);
      self->sent_seq = change->seq;
    }

  batch = json_object_new ();
  json_object_set_string_member (batch, "type", "changes");
  json_object_set_array_member (batch, "changes", list);
  /* Where the phone's log stands, so the desktop knows when it has caught up. */
  json_object_set_int_member (batch, "head", (gint64) companion_phone_store_get_last_seq (self->store));
  return send (self, batch);
}

/* Sends while the window has room and there is something to send. */
static void
pump (CompanionPhoneSync *self)
{
  while (self->phase != PHASE_IDLE && self->in_flight < COMPANION_SYNC_WINDOW)
    {
      if (self->phase < PHASE_END)
        {
          if (!refill (self))
            return;
          /* The chat list is committed on its own before any history is
           * sent: the desktop is usable at once, and the list's commit
           * does not compete with a stream of history for the machine. */
          if (!g_queue_is_empty (&self->pending) && self->phase > PHASE_PREVIEWS && !self->list_committed)
            {
              if (self->in_flight > 0)
                return;
              self->list_committed = TRUE;
            }
          if (!g_queue_is_empty (&self->pending))
            {
              if (!send_snapshot_page (self))
                return;
              continue;
            }
        }
      if (self->phase == PHASE_END)
        {
          g_autoptr(JsonObject) end = json_object_new ();

          json_object_set_string_member (end, "type", "snapshot-end");
          json_object_set_int_member (end, "seq", (gint64) self->snapshot_seq);
          json_object_set_int_member (end, "head", (gint64) companion_phone_store_get_last_seq (self->store));
          self->phase = PHASE_LIVE;
          self->sent_seq = self->snapshot_seq;
          self->must_answer = FALSE; /* the snapshot's end is the answer */
          if (!send (self, end))
            return;
          continue;
        }
      if (!send_changes (self))
        return;
    }
}

static void
on_sync_request (CompanionPhoneClient *client,
                 const char           *type,
                 JsonObject           *record,
                 CompanionPhoneSync   *self)
{
  gint64 cursor = companion_json_get_int (record, "cursor", -1);
  guint64 last = companion_phone_store_get_last_seq (self->store);

  clear_pending (self);
  g_clear_pointer (&self->after_key, g_free);
  g_clear_pointer (&self->previews, g_ptr_array_unref);
  g_clear_pointer (&self->preview_media, g_ptr_array_unref);
  self->in_flight = 0;
  self->pages_sent = 0;
  self->must_answer = TRUE;
  self->before_time = G_MAXINT64;
  self->phase_listed = FALSE;
  self->list_committed = FALSE;

  if (cursor < 0 || (guint64) cursor > last)
    {
      /* A desktop ahead of this phone mirrors other data: start it over. */
      g_debug ("The desktop's cursor %" G_GINT64_FORMAT " is not ours (%" G_GUINT64_FORMAT "): snapshot",
               cursor, last);
      cursor = 0;
    }

  if (cursor == 0)
    {
      self->phase = PHASE_CONTACTS;
      self->snapshot_seq = last;
    }
  else
    {
      self->phase = PHASE_LIVE;
      self->sent_seq = (guint64) cursor;
    }
  pump (self);
}

static void
on_ack (CompanionPhoneClient *client,
        const char           *type,
        JsonObject           *record,
        CompanionPhoneSync   *self)
{
  if (self->in_flight > 0)
    self->in_flight--;
  pump (self);
}

static void
reply (CompanionPhoneSync *self,
       const char         *type,
       const char         *client_id,
       const char         *message)
{
  g_autoptr(JsonObject) answer = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (answer, "type", type);
  json_object_set_string_member (answer, "client_id", client_id);
  if (message != NULL)
    json_object_set_string_member (answer, "message", message);
  if (!companion_phone_client_send_record (self->client, answer, &error))
    g_debug ("Could not answer command %s: %s", client_id, error->message);
}

static void
copy_member (JsonObject  *from,
             const char  *name,
             JsonNode    *node,
             gpointer     user_data)
{
  json_object_set_member (user_data, name, json_node_copy (node));
}

/* Carries out a checked command RECORD and answers it. */
static void
carry_out (CompanionPhoneSync *self,
           const char         *client_id,
           JsonObject         *record)
{
  g_autoptr(JsonObject) fields = json_object_new ();
  g_autoptr(GError) error = NULL;
  const char *event = json_object_get_string_member (record, "event");

  /* Records arrive sealed: the id goes into a copy. */
  json_object_foreach_member (json_object_get_object_member (record, "fields"), copy_member, fields);
  if (g_str_equal (event, "message-out"))
    json_object_set_string_member (fields, "id", client_id);

  companion_phone_events_apply (self->events, event, fields, &error);
  if (error != NULL)
    {
      reply (self, "command-error", client_id, error->message);
      return;
    }
  reply (self, "command-ack", client_id, NULL);
  companion_phone_sync_changes_added (self);
}

/* The file of an upload command is in the media folder: its media record
 * goes into the store (once), then the message. */
static void
carry_out_upload (CompanionPhoneSync *self,
                  const char         *client_id,
                  JsonObject         *record)
{
  JsonObject *media = json_object_get_object_member (record, "upload");
  g_autoptr(GError) error = NULL;
  int known = companion_phone_store_has_media (self->store, json_object_get_string_member (media, "hash"),
                                               &error);

  if (known == 0)
    {
      g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);

      g_ptr_array_add (changes, companion_change_new_upsert (0, COMPANION_ENTITY_MEDIA, media));
      companion_phone_store_apply (self->store, changes, &error);
    }
  if (error != NULL)
    {
      reply (self, "command-error", client_id, error->message);
      return;
    }
  carry_out (self, client_id, record);
}

/* A message-out whose media comes with it ("upload", its media record):
 * carried out at once when the phone has the file, else once the file has
 * come from the desktop and verified. */
static void
receive_upload (CompanionPhoneSync *self,
                const char         *client_id,
                JsonObject         *record)
{
  JsonNode *upload = json_object_get_member (record, "upload");
  JsonObject *fields = json_object_get_object_member (record, "fields");
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  JsonObject *media;
  const char *hash;

  if (!g_str_equal (json_object_get_string_member (record, "event"), "message-out") ||
      !JSON_NODE_HOLDS_OBJECT (upload))
    {
      reply (self, "command-error", client_id, "a file comes only with a message-out, as a media record");
      return;
    }
  media = json_node_get_object (upload);
  if (!companion_record_validate (COMPANION_ENTITY_MEDIA, media, &error))
    {
      reply (self, "command-error", client_id, error->message);
      return;
    }
  hash = json_object_get_string_member (media, "hash");
  if (g_strcmp0 (companion_json_get_string (fields, "media"), hash) != 0)
    {
      reply (self, "command-error", client_id, "the message's “media” is not the file that comes with it");
      return;
    }
  path = companion_phone_store_get_media_path (self->store, hash);
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      carry_out_upload (self, client_id, record);
      return;
    }
  g_hash_table_replace (self->waiting, g_strdup (client_id), json_object_ref (record));
  if (!companion_upload_receiver_fetch (self->uploads, client_id, hash,
                                        (guint64) json_object_get_int_member (media, "size"), &error))
    {
      g_hash_table_remove (self->waiting, client_id);
      reply (self, "command-error", client_id, error->message);
    }
}

/* Every command waiting for HASH, carried out (ERROR NULL) or refused. */
static void
finish_waiting (CompanionPhoneSync *self,
                const char         *hash,
                GError             *error)
{
  g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, self->waiting);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      JsonObject *media = json_object_get_object_member (value, "upload");

      if (g_str_equal (json_object_get_string_member (media, "hash"), hash))
        g_ptr_array_add (done, g_strdup (key));
    }
  for (guint i = 0; i < done->len; i++)
    {
      const char *client_id = g_ptr_array_index (done, i);
      g_autoptr(JsonObject) record = json_object_ref (g_hash_table_lookup (self->waiting, client_id));

      g_hash_table_remove (self->waiting, client_id);
      if (error == NULL)
        carry_out_upload (self, client_id, record);
      else
        reply (self, "command-error", client_id, error->message);
    }
}

static void
on_upload_complete (CompanionUploadReceiver *uploads,
                    const char              *hash,
                    CompanionPhoneSync      *self)
{
  finish_waiting (self, hash, NULL);
}

static void
on_upload_failed (CompanionUploadReceiver *uploads,
                  const char              *hash,
                  GError                  *error,
                  CompanionPhoneSync      *self)
{
  g_message ("%s", error->message);
  finish_waiting (self, hash, error);
}

/* A command from the desktop is one of our own events; a repeat of one
 * already carried out (same client id) changes nothing and is acknowledged
 * again, so the desktop may resend freely. */
static void
on_command (CompanionPhoneClient *client,
            const char           *type,
            JsonObject           *record,
            CompanionPhoneSync   *self)
{
  static const char * const allowed[] = { "message-out", "read", "react", "delete", "edit", NULL };
  const char *client_id = companion_json_get_string (record, "client_id");
  const char *event = companion_json_get_string (record, "event");
  JsonNode *fields_node = json_object_get_member (record, "fields");

  if (client_id == NULL || !companion_record_id_is_valid (COMPANION_ENTITY_MESSAGE, client_id))
    return;
  if (event == NULL || !g_strv_contains (allowed, event) ||
      fields_node == NULL || !JSON_NODE_HOLDS_OBJECT (fields_node))
    {
      reply (self, "command-error", client_id, "not a command the desktop may give");
      return;
    }

  if (json_object_has_member (record, "upload"))
    {
      receive_upload (self, client_id, record);
      return;
    }
  carry_out (self, client_id, record);
}

static void
on_disconnected (CompanionPhoneSync *self)
{
  /* The desktop sends its waiting commands again at the next session. */
  g_hash_table_remove_all (self->waiting);
  self->phase = PHASE_IDLE;
  self->in_flight = 0;
  clear_pending (self);
}

void
companion_phone_sync_changes_added (CompanionPhoneSync *self)
{
  g_return_if_fail (COMPANION_IS_PHONE_SYNC (self));

  if (self->phase == PHASE_LIVE)
    pump (self);
}

static void
companion_phone_sync_dispose (GObject *object)
{
  CompanionPhoneSync *self = COMPANION_PHONE_SYNC (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->events);
  if (self->uploads != NULL)
    g_signal_handlers_disconnect_by_data (self->uploads, self);
  g_clear_object (&self->uploads);
  g_clear_object (&self->store);
  clear_pending (self);

  G_OBJECT_CLASS (companion_phone_sync_parent_class)->dispose (object);
}

static void
companion_phone_sync_finalize (GObject *object)
{
  CompanionPhoneSync *self = COMPANION_PHONE_SYNC (object);

  g_free (self->after_key);
  g_clear_pointer (&self->previews, g_ptr_array_unref);
  g_clear_pointer (&self->waiting, g_hash_table_unref);
  g_clear_pointer (&self->preview_media, g_ptr_array_unref);

  G_OBJECT_CLASS (companion_phone_sync_parent_class)->finalize (object);
}

static void
companion_phone_sync_class_init (CompanionPhoneSyncClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_phone_sync_dispose;
  object_class->finalize = companion_phone_sync_finalize;

  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
companion_phone_sync_init (CompanionPhoneSync *self)
{
  g_queue_init (&self->pending);
  self->before_time = G_MAXINT64;
  self->waiting = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_object_unref);
}

CompanionPhoneSync *
companion_phone_sync_new (CompanionPhoneClient *client,
                          CompanionPhoneStore  *store)
{
  CompanionPhoneSync *self;
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_CLIENT (client), NULL);
  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (store), NULL);

  self = g_object_new (COMPANION_TYPE_PHONE_SYNC, NULL);
  self->client = g_object_ref (client);
  self->store = g_object_ref (store);
  self->events = companion_phone_events_new (store, &error);
  if (self->events == NULL)
    g_warning ("The desktop's commands cannot be carried out: %s", error->message);
  g_signal_connect (client, "session-record::sync-request", G_CALLBACK (on_sync_request), self);
  g_signal_connect (client, "session-record::ack", G_CALLBACK (on_ack), self);
  if (self->events != NULL)
    g_signal_connect (client, "session-record::command", G_CALLBACK (on_command), self);
  self->uploads = companion_upload_receiver_new (client, store);
  g_signal_connect (self->uploads, "complete", G_CALLBACK (on_upload_complete), self);
  g_signal_connect (self->uploads, "failed", G_CALLBACK (on_upload_failed), self);
  g_signal_connect_swapped (client, "disconnected", G_CALLBACK (on_disconnected), self);
  return self;
}
