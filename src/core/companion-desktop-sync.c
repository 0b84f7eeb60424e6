/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-desktop-sync"

#include "config.h"

#include <string.h>

#include "companion-desktop-sync.h"
#include "companion-record.h"
#include "companion-session-protocol.h"
#include "companion-snapshot-writer.h"
#include "companion-upload-sender.h"

/* A caption is a message's text (docs/records.md). */
#define MAX_CAPTION_BYTES 49152
/* Bytes read to guess a file's type. */
#define SNIFF_BYTES       4096
#include "companion-sync-protocol.h"

struct _CompanionDesktopSync
{
  GObject                 parent_instance;

  CompanionDesktopServer *server;
  CompanionMirrorStore   *store;
  gboolean                stopped;   /* a refused page: wait for the next session */
  guint64                 head;      /* the phone's last change, as it last said */
  CompanionUploadSender  *uploads;   /* the bytes of files sent with commands */
  GHashTable             *sent_media; /* hashes the phone took, until their record is mirrored */
  CompanionSnapshotWriter *writer;   /* checks and commits snapshot pages */
  GArray                 *pages;     /* PageInfo: given to the writer, not committed yet */
  guint                   flush_id;  /* commits the pages when no more are waiting */
  guint                   commits;   /* asked of the writer, not done yet */
  guint                   session;   /* counts connections: a later one ignores older commits */
  GQueue                  waiting;   /* WaitingRecord: received after what is still committing */
  gboolean                replaying; /* handling a waiting record */
};

/* What a snapshot page's acknowledgement reports. */
typedef struct
{
  CompanionEntity entity;
  guint           n_records;
} PageInfo;

/* A commit of the writer, until it is done. */
typedef struct
{
  GWeakRef  sync;
  guint     session;
  GArray   *pages;   /* PageInfo; NULL for the snapshot's end */
  guint64   seq;     /* the end's */
  guint64   head;
} Commit;

static void
commit_free (Commit *commit)
{
  g_weak_ref_clear (&commit->sync);
  g_clear_pointer (&commit->pages, g_array_unref);
  g_free (commit);
}

typedef void (*RecordHandler) (CompanionDesktopSync *self,
                               JsonObject           *record);

/* A record that must wait until the snapshot pages before it are committed. */
typedef struct
{
  RecordHandler  handler;
  JsonObject    *record;
} WaitingRecord;

static void
waiting_record_free (WaitingRecord *waiting)
{
  json_object_unref (waiting->record);
  g_free (waiting);
}

G_DEFINE_FINAL_TYPE (CompanionDesktopSync, companion_desktop_sync, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-desktop-sync-error-quark, companion_desktop_sync_error)

enum {
  SIGNAL_PROGRESS,
  SIGNAL_SYNCED,
  SIGNAL_FAILED,
  SIGNAL_COMMAND_DONE,
  SIGNAL_COMMAND_FAILED,
  SIGNAL_CHANGES_APPLIED,
  SIGNAL_UPLOAD_PROGRESS,
  N_SIGNALS
};

/* What the desktop may ask the phone to do: phone events of the same names
 * (docs/phone-simulator.md), carried out by the phone as its own changes. */
static const char * const command_events[] = {
  "message-out", "read", "react", "delete", "edit", NULL
};

static guint signals[N_SIGNALS];

static void
fail (CompanionDesktopSync *self,
      GError               *error)
{
  /* No acknowledgement: the phone sends nothing more this session, and
   * the next connection starts again from the committed cursor. */
  self->stopped = TRUE;
  /* Reported through "failed"; a hostile phone is not a programming error. */
  g_debug ("Sync stopped: %s", error->message);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, error);
  g_error_free (error);
}

static void
acknowledge (CompanionDesktopSync *self)
{
  g_autoptr(JsonObject) ack = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (ack, "type", "ack");
  json_object_set_int_member (ack, "cursor", (gint64) companion_mirror_store_get_cursor (self->store));
  if (!companion_desktop_server_send_record (self->server, ack, &error))
    g_debug ("Could not acknowledge: %s", error->message);
}

static GError *
protocol_error (const char *message)
{
  return g_error_new_literal (COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD, message);
}

static void
send_command (CompanionDesktopSync *self,
              const char           *client_id,
              JsonObject           *command)
{
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GError) error = NULL;

  json_object_set_string_member (record, "type", "command");
  json_object_set_string_member (record, "client_id", client_id);
  json_object_set_string_member (record, "event", json_object_get_string_member (command, "event"));
  json_object_set_object_member (record, "fields",
                                 json_object_ref (json_object_get_object_member (command, "fields")));
  if (json_object_has_member (command, "upload"))
    {
      JsonObject *media = json_object_get_object_member (command, "upload");

      /* Offered first: the phone may ask for the bytes at once. */
      json_object_set_object_member (record, "upload", json_object_ref (media));
      companion_upload_sender_offer (self->uploads, client_id, json_object_get_string_member (media, "hash"),
                                     (guint64) json_object_get_int_member (media, "size"));
    }
  if (!companion_desktop_server_send_record (self->server, record, &error))
    {
      g_debug ("Command %s waits: %s", client_id, error->message);
      return;
    }
  if (!companion_mirror_store_outbox_mark_attempt (self->store, client_id, &error))
    g_debug ("Could not count the attempt: %s", error->message);
}

/* Sends every waiting command, oldest first. */
static void
flush_outbox (CompanionDesktopSync *self)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GError) error = NULL;

  entries = companion_mirror_store_outbox_list (self->store, &error);
  if (entries == NULL)
    {
      g_warning ("Cannot read the outbox: %s", error->message);
      return;
    }
  for (guint i = 0; i < entries->len; i++)
    {
      CompanionOutboxEntry *entry = g_ptr_array_index (entries, i);
      send_command (self, entry->client_id, entry->command);
    }
}

/* A file the phone took is not downloaded back: once the phone's media
 * record is mirrored, the file already in the media folder completes it. */
static void
adopt_sent_media (CompanionDesktopSync *self)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->sent_media);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(GError) error = NULL;

      if (companion_mirror_store_adopt_media_file (self->store, key, NULL, &error))
        g_hash_table_iter_remove (&iter);
      else if (!g_error_matches (error, COMPANION_MIRROR_STORE_ERROR, COMPANION_MIRROR_STORE_ERROR_NOT_FOUND))
        {
          g_warning ("Cannot mark media %s complete: %s", (const char *) key, error->message);
          g_hash_table_iter_remove (&iter);
        }
    }
}

static void
on_command_reply (CompanionDesktopServer *server,
                  const char             *type,
                  JsonObject             *record,
                  CompanionDesktopSync   *self)
{
  g_autoptr(GError) error = NULL;
  const char *client_id = companion_json_get_string (record, "client_id");
  g_autofree char *sent_hash = NULL;
  gboolean removed = FALSE;

  if (client_id == NULL || !companion_record_id_is_valid (COMPANION_ENTITY_MESSAGE, client_id))
    return;
  sent_hash = companion_upload_sender_forget (self->uploads, client_id);
  /* The phone has the file: its record, when it comes, finds it here. */
  if (sent_hash != NULL && g_str_equal (type, "command-ack"))
    {
      g_hash_table_add (self->sent_media, g_steal_pointer (&sent_hash));
      adopt_sent_media (self);
    }
  /* Done or refused, the command leaves the outbox: retrying a refused one
   * would be refused again. A reply to one already answered (it was sent
   * again before the first answer came) reports nothing twice. */
  if (!companion_mirror_store_outbox_remove (self->store, client_id, &removed, &error))
    {
      g_warning ("Cannot update the outbox: %s", error->message);
      return;
    }
  if (!removed)
    return;
  if (g_str_equal (type, "command-ack"))
    g_signal_emit (self, signals[SIGNAL_COMMAND_DONE], 0, client_id);
  else
    {
      g_autoptr(GError) refused = g_error_new (COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                                               "The phone refused command %s: %s", client_id,
                                               companion_json_get_string_or (record, "message", "no reason given"));
      g_signal_emit (self, signals[SIGNAL_COMMAND_FAILED], 0, client_id, refused);
    }
}

/* Puts a command in the outbox and sends it when the phone is there.
 * UPLOAD (may be NULL): the media record of a file that goes with it. */
static char *
queue (CompanionDesktopSync *self,
       const char           *event,
       JsonObject           *fields,
       JsonObject           *upload,
       GError              **error)
{
  g_autoptr(JsonObject) command = NULL;
  g_autofree char *client_id = NULL;

  client_id = g_uuid_string_random ();
  command = json_object_new ();
  json_object_set_string_member (command, "event", event);
  json_object_set_object_member (command, "fields", json_object_ref (fields));
  if (upload != NULL)
    json_object_set_object_member (command, "upload", json_object_ref (upload));
  /* Persisted first: the command survives a crash or an absent phone. */
  if (!companion_mirror_store_outbox_add (self->store, client_id, command, error))
    return NULL;
  if (companion_desktop_server_is_connected (self->server))
    send_command (self, client_id, command);
  return g_steal_pointer (&client_id);
}

char *
companion_desktop_sync_queue_command (CompanionDesktopSync *self,
                                      const char           *event,
                                      JsonObject           *fields,
                                      GError              **error)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SYNC (self), NULL);
  g_return_val_if_fail (event != NULL && fields != NULL, NULL);

  if (!g_strv_contains (command_events, event))
    {
      g_set_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%.32s” is not something the desktop can ask of the phone", event);
      return NULL;
    }
  return queue (self, event, fields, NULL, error);
}

static void
on_connected (CompanionDesktopSync *self)
{
  g_autoptr(JsonObject) request = json_object_new ();
  g_autoptr(GError) error = NULL;
  guint64 cursor;

  /* Pages of an earlier session that were never committed nor acknowledged;
   * the writer is done with the database once cancelled. */
  companion_snapshot_writer_cancel (self->writer);
  g_array_set_size (self->pages, 0);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_queue_clear_full (&self->waiting, (GDestroyNotify) waiting_record_free);
  self->session++;
  self->commits = 0;
  self->stopped = FALSE;
  self->head = 0;
  cursor = companion_mirror_store_get_cursor (self->store);
  /* With no cursor, what an interrupted snapshot left may be stale. */
  if (cursor == 0 && !companion_mirror_store_reset (self->store, &error))
    {
      fail (self, g_steal_pointer (&error));
      return;
    }
  json_object_set_string_member (request, "type", "sync-request");
  json_object_set_int_member (request, "cursor", (gint64) cursor);
  if (!companion_desktop_server_send_record (self->server, request, &error))
    g_debug ("Could not ask for changes: %s", error->message);
  flush_outbox (self);
}

static void replay_waiting (CompanionDesktopSync *self);

/* Back from the writer: acknowledges what it committed. */
static void
on_committed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  CompanionSnapshotWriter *writer = COMPANION_SNAPSHOT_WRITER (source);
  Commit *commit = user_data;
  g_autoptr(CompanionDesktopSync) self = g_weak_ref_get (&commit->sync);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (commit->pages != NULL)
    ok = companion_snapshot_writer_commit_finish (writer, result, &error);
  else
    ok = companion_snapshot_writer_finish_finish (writer, result, &error);
  /* Gone, or a commit of an earlier connection. */
  if (self == NULL || commit->session != self->session)
    {
      commit_free (commit);
      return;
    }
  self->commits--;
  /* Once stopped, nothing more is acknowledged this session. */
  if (self->stopped && !ok)
    g_debug ("After the sync stopped: %s", error->message);
  else if (!ok)
    fail (self, g_steal_pointer (&error));
  else if (self->stopped)
    g_debug ("Committed after the sync stopped; not acknowledged");
  else if (commit->pages != NULL)
    {
      for (guint i = 0; i < commit->pages->len; i++)
        {
          PageInfo *page = &g_array_index (commit->pages, PageInfo, i);

          acknowledge (self);
          g_signal_emit (self, signals[SIGNAL_PROGRESS], 0, companion_entity_to_string (page->entity),
                         page->n_records);
        }
    }
  else
    {
      self->head = MAX (commit->seq, commit->head);
      acknowledge (self);
      g_signal_emit (self, signals[SIGNAL_SYNCED], 0, commit->seq);
    }
  commit_free (commit);
  if (self->commits == 0)
    replay_waiting (self);
}

static Commit *
commit_new (CompanionDesktopSync *self)
{
  Commit *commit = g_new0 (Commit, 1);

  g_weak_ref_init (&commit->sync, self);
  commit->session = self->session;
  self->commits++;
  return commit;
}

/* Has the writer commit the pages received so far in one transaction;
 * each is acknowledged once committed. FALSE once the sync stopped. */
static gboolean
flush_pages (CompanionDesktopSync *self)
{
  Commit *commit;

  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (self->stopped)
    return FALSE;
  if (self->pages->len == 0)
    return TRUE;

  commit = commit_new (self);
  commit->pages = g_steal_pointer (&self->pages);
  self->pages = g_array_new (FALSE, FALSE, sizeof (PageInfo));
  companion_snapshot_writer_commit_async (self->writer, on_committed, commit);
  return TRUE;
}

static gboolean
flush_when_idle (gpointer user_data)
{
  CompanionDesktopSync *self = user_data;

  self->flush_id = 0;
  flush_pages (self);
  return G_SOURCE_REMOVE;
}

/* RECORD waits for the commits still running (it must not overtake them). */
static void
wait_for_commits (CompanionDesktopSync *self,
                  RecordHandler         handler,
                  JsonObject           *record)
{
  WaitingRecord *waiting = g_new0 (WaitingRecord, 1);

  waiting->handler = handler;
  waiting->record = json_object_ref (record);
  /* One taken from the front while replaying goes back to the front. */
  if (self->replaying)
    g_queue_push_head (&self->waiting, waiting);
  else
    g_queue_push_tail (&self->waiting, waiting);
}

static void
replay_waiting (CompanionDesktopSync *self)
{
  WaitingRecord *waiting;

  self->replaying = TRUE;
  while (!self->stopped && self->commits == 0 && (waiting = g_queue_pop_head (&self->waiting)) != NULL)
    {
      waiting->handler (self, waiting->record);
      waiting_record_free (waiting);
    }
  self->replaying = FALSE;
}

/* Records are handled in the order they came. */
static void
receive (CompanionDesktopSync *self,
         RecordHandler         handler,
         JsonObject           *record)
{
  if (self->stopped)
    return;
  if (!g_queue_is_empty (&self->waiting))
    wait_for_commits (self, handler, record);
  else
    handler (self, record);
}

static void
handle_snapshot (CompanionDesktopSync *self,
                 JsonObject           *record)
{
  const char *entity_name = companion_json_get_string_or (record, "entity", "");
  JsonNode *list = json_object_get_member (record, "records");
  PageInfo page;
  JsonArray *array;

  if (!companion_entity_from_string (entity_name, &page.entity))
    {
      fail (self, g_error_new (COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_UNKNOWN_ENTITY,
                               "A snapshot page names an unknown entity “%.32s”", entity_name));
      return;
    }
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      fail (self, protocol_error ("A snapshot page has no “records” list"));
      return;
    }
  array = json_node_get_array (list);
  page.n_records = json_array_get_length (array);
  for (guint i = 0; i < page.n_records; i++)
    if (!JSON_NODE_HOLDS_OBJECT (json_array_get_element (array, i)))
      {
        fail (self, protocol_error ("A snapshot page holds something that is not a record"));
        return;
      }

  /* The chat list (chats, then their previews) is committed as soon as
   * the next kind of record arrives, not held back with a whole batch. */
  if (self->pages->len > 0 &&
      g_array_index (self->pages, PageInfo, self->pages->len - 1).entity != page.entity &&
      !flush_pages (self))
    return;

  /* The list alone goes to the writer's thread: its reference count is
   * atomic, while the page around it is released here. */
  companion_snapshot_writer_add_page (self->writer, page.entity, list);
  g_array_append_val (self->pages, page);

  /* Pages that arrive together are committed together: each commit writes
   * every database page it touched again. Each is still acknowledged only
   * once committed. */
  if (self->pages->len >= COMPANION_SYNC_COMMIT_PAGES)
    flush_pages (self);
  else if (self->flush_id == 0)
    self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, flush_when_idle, self, NULL);
}

static void
on_snapshot (CompanionDesktopServer *server,
             const char             *type,
             JsonObject             *record,
             CompanionDesktopSync   *self)
{
  receive (self, handle_snapshot, record);
}

static void
handle_snapshot_end (CompanionDesktopSync *self,
                     JsonObject           *record)
{
  gint64 seq = companion_json_get_int (record, "seq", -1);
  Commit *commit;

  if (!flush_pages (self))
    return;
  if (seq < 0)
    {
      fail (self, protocol_error ("The snapshot's end has no “seq”"));
      return;
    }
  /* After the pages, on the writer's thread: building the message
   * indexes takes a while on a large mirror. */
  commit = commit_new (self);
  commit->seq = (guint64) seq;
  commit->head = (guint64) MAX (seq, companion_json_get_int (record, "head", seq));
  companion_snapshot_writer_finish_async (self->writer, (guint64) seq, on_committed, commit);
}

static void
on_snapshot_end (CompanionDesktopServer *server,
                 const char             *type,
                 JsonObject             *record,
                 CompanionDesktopSync   *self)
{
  receive (self, handle_snapshot_end, record);
}

static void
handle_changes (CompanionDesktopSync *self,
                JsonObject           *record)
{
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  g_autoptr(GError) error = NULL;
  JsonNode *list = json_object_get_member (record, "changes");
  JsonArray *array;

  if (!flush_pages (self))
    return;
  /* Changes go to the mirror from this thread, after the snapshot. */
  if (self->commits > 0)
    {
      wait_for_commits (self, handle_changes, record);
      return;
    }
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      fail (self, protocol_error ("A batch of changes has no “changes” list"));
      return;
    }
  array = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      CompanionChange *change;

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          fail (self, protocol_error ("A batch of changes holds something that is not a change"));
          return;
        }
      change = companion_change_parse (json_node_get_object (item), &error);
      if (change == NULL)
        {
          fail (self, g_steal_pointer (&error));
          return;
        }
      g_ptr_array_add (changes, change);
    }

  if (!companion_mirror_store_apply_changes (self->store, changes, &error))
    {
      fail (self, g_steal_pointer (&error));
      return;
    }
  self->head = (guint64) MAX (0, companion_json_get_int (record, "head", 0));
  acknowledge (self);
  g_signal_emit (self, signals[SIGNAL_CHANGES_APPLIED], 0, changes);
  g_signal_emit (self, signals[SIGNAL_SYNCED], 0, companion_mirror_store_get_cursor (self->store));
}

static void
on_changes (CompanionDesktopServer *server,
            const char             *type,
            JsonObject             *record,
            CompanionDesktopSync   *self)
{
  receive (self, handle_changes, record);
}

static void
on_own_synced (CompanionDesktopSync *self,
               guint64               cursor,
               gpointer              user_data)
{
  adopt_sent_media (self);
}

static void
on_upload_progress (CompanionUploadSender *uploads,
                    const char            *client_id,
                    guint64                sent,
                    guint64                size,
                    CompanionDesktopSync  *self)
{
  g_signal_emit (self, signals[SIGNAL_UPLOAD_PROGRESS], 0, client_id, sent, size);
}

/* The file of a command cannot be sent: the command fails like one the
 * phone refused. */
static void
on_upload_failed (CompanionUploadSender *uploads,
                  const char            *client_id,
                  GError                *error,
                  CompanionDesktopSync  *self)
{
  g_autoptr(GError) store_error = NULL;
  gboolean removed = FALSE;

  if (!companion_mirror_store_outbox_remove (self->store, client_id, &removed, &store_error))
    g_warning ("Cannot update the outbox: %s", store_error->message);
  if (removed)
    g_signal_emit (self, signals[SIGNAL_COMMAND_FAILED], 0, client_id, error);
}

static void
companion_desktop_sync_dispose (GObject *object)
{
  CompanionDesktopSync *self = COMPANION_DESKTOP_SYNC (object);

  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);
  if (self->uploads != NULL)
    g_signal_handlers_disconnect_by_data (self->uploads, self);
  g_clear_object (&self->uploads);
  g_clear_object (&self->server);
  g_clear_object (&self->store);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  /* Commits still to come find the sync gone (a weak reference). */
  if (self->writer != NULL)
    companion_snapshot_writer_cancel (self->writer);
  g_clear_object (&self->writer);
  g_clear_pointer (&self->pages, g_array_unref);
  g_queue_clear_full (&self->waiting, (GDestroyNotify) waiting_record_free);

  G_OBJECT_CLASS (companion_desktop_sync_parent_class)->dispose (object);
}

static void
companion_desktop_sync_finalize (GObject *object)
{
  CompanionDesktopSync *self = COMPANION_DESKTOP_SYNC (object);

  g_clear_pointer (&self->sent_media, g_hash_table_unref);

  G_OBJECT_CLASS (companion_desktop_sync_parent_class)->finalize (object);
}

static void
companion_desktop_sync_class_init (CompanionDesktopSyncClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = companion_desktop_sync_dispose;
  object_class->finalize = companion_desktop_sync_finalize;

  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_UINT);
  signals[SIGNAL_SYNCED] = g_signal_new ("synced", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, G_TYPE_UINT64);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                         G_TYPE_NONE, 1, G_TYPE_ERROR);
  signals[SIGNAL_COMMAND_DONE] = g_signal_new ("command-done", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                               NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_COMMAND_FAILED] = g_signal_new ("command-failed", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                 NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_ERROR);
  signals[SIGNAL_CHANGES_APPLIED] = g_signal_new ("changes-applied", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                                                  NULL, G_TYPE_NONE, 1, G_TYPE_PTR_ARRAY);
  signals[SIGNAL_UPLOAD_PROGRESS] = g_signal_new ("upload-progress", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                  NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING,
                                                  G_TYPE_UINT64, G_TYPE_UINT64);
}

static void
companion_desktop_sync_init (CompanionDesktopSync *self)
{
  self->sent_media = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->pages = g_array_new (FALSE, FALSE, sizeof (PageInfo));
  g_queue_init (&self->waiting);
}

CompanionDesktopSync *
companion_desktop_sync_new (CompanionDesktopServer *server,
                            CompanionMirrorStore   *store)
{
  CompanionDesktopSync *self;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SERVER (server), NULL);
  g_return_val_if_fail (COMPANION_IS_MIRROR_STORE (store), NULL);

  self = g_object_new (COMPANION_TYPE_DESKTOP_SYNC, NULL);
  self->server = g_object_ref (server);
  self->store = g_object_ref (store);
  self->writer = companion_snapshot_writer_new (companion_mirror_store_get_state_dir (store));
  g_signal_connect_swapped (server, "connected", G_CALLBACK (on_connected), self);
  g_signal_connect (server, "session-record::snapshot", G_CALLBACK (on_snapshot), self);
  g_signal_connect (server, "session-record::snapshot-end", G_CALLBACK (on_snapshot_end), self);
  g_signal_connect (server, "session-record::changes", G_CALLBACK (on_changes), self);
  g_signal_connect (server, "session-record::command-ack", G_CALLBACK (on_command_reply), self);
  g_signal_connect (server, "session-record::command-error", G_CALLBACK (on_command_reply), self);
  self->uploads = companion_upload_sender_new (server, store);
  g_signal_connect (self->uploads, "progress", G_CALLBACK (on_upload_progress), self);
  g_signal_connect (self->uploads, "failed", G_CALLBACK (on_upload_failed), self);
  /* Connected before anyone else can: a file the phone took is complete
   * before the others hear of the sync (and media transfer looks for
   * what to download). */
  g_signal_connect (self, "synced", G_CALLBACK (on_own_synced), NULL);
  return self;
}

gboolean
companion_desktop_sync_is_up_to_date (CompanionDesktopSync *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SYNC (self), FALSE);

  return self->head > 0 && companion_mirror_store_get_cursor (self->store) >= self->head;
}

/* ---- sending a file ------------------------------------------------------------ */

typedef struct
{
  /* Borrowed: the outer task holds self, and self the store, until the
   * worker's callback. */
  CompanionMirrorStore *store;
  char                 *chat_id;
  GFile                *file;
  char                 *caption;
  /* Found on the worker thread. */
  char                 *hash;
  guint64               size;
  char                 *mime;
  char                 *name;
} SendFile;

static void
send_file_free (SendFile *job)
{
  g_free (job->chat_id);
  g_clear_object (&job->file);
  g_free (job->caption);
  g_free (job->hash);
  g_free (job->mime);
  g_free (job->name);
  g_free (job);
}

/* The kinds of docs/records.md; sound of any sort is a voice clip there. */
static const char *
kind_for_mime (const char *mime)
{
  if (g_str_has_prefix (mime, "image/"))
    return "image";
  if (g_str_has_prefix (mime, "video/"))
    return "video";
  if (g_str_has_prefix (mime, "audio/"))
    return "voice";
  return "document";
}

/* The file's name as records.md allows it: UTF-8, 1–256 bytes, whole
 * characters. */
static char *
record_name (GFileInfo *info)
{
  const char *display = g_file_info_get_display_name (info);
  const char *end;
  GString *name;

  if (display == NULL || *display == '\0' || !g_utf8_validate (display, -1, NULL))
    return g_strdup ("file");
  name = g_string_new (NULL);
  for (const char *c = display; *c != '\0'; c = end)
    {
      end = g_utf8_next_char (c);
      if (name->len + (gsize) (end - c) > 256)
        break;
      g_string_append_len (name, c, end - c);
    }
  return g_string_free (name, FALSE);
}

/* Worker thread: checks FILE, guesses its type, and copies it into the
 * media folder by its hash. Reads nothing of the database. */
static void
send_file_thread (GTask        *task,
                  gpointer      source_object,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  SendFile *job = task_data;
  g_autofree char *shown = g_file_get_parse_name (job->file);
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *content_type = NULL;
  g_autofree guint8 *head = g_malloc (SNIFF_BYTES);
  gsize head_len = 0;
  guint64 size;

  info = g_file_query_info (job->file,
                            G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE ","
                            G_FILE_ATTRIBUTE_STANDARD_DISPLAY_NAME,
                            G_FILE_QUERY_INFO_NONE, cancellable, &error);
  if (info == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_NOT_FOUND,
                                 "There is no file “%s”", shown);
      else
        g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_UNREADABLE,
                                 "Cannot read “%s”: %s", shown, error->message);
      return;
    }
  if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_NOT_REGULAR,
                               "“%s” is a folder; only a file can be sent", shown);
      return;
    }
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_NOT_REGULAR,
                               "“%s” is not a regular file", shown);
      return;
    }
  size = (guint64) g_file_info_get_size (info);
  if (size > COMPANION_DESKTOP_SYNC_MAX_FILE_SIZE)
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_TOO_LARGE,
                               "“%s” is %" G_GUINT64_FORMAT " bytes; files of up to 2 GiB (%"
                               G_GUINT64_FORMAT " bytes) can be sent", shown, size,
                               COMPANION_DESKTOP_SYNC_MAX_FILE_SIZE);
      return;
    }
  if (size == 0)
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_EMPTY,
                               "“%s” is empty; there is nothing to send", shown);
      return;
    }

  stream = g_file_read (job->file, cancellable, &error);
  if (stream == NULL ||
      !g_input_stream_read_all (G_INPUT_STREAM (stream), head, SNIFF_BYTES, &head_len, cancellable, &error) ||
      !g_seekable_seek (G_SEEKABLE (stream), 0, G_SEEK_SET, cancellable, &error))
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_UNREADABLE,
                               "Cannot read “%s”: %s", shown, error->message);
      return;
    }
  job->name = record_name (info);
  content_type = g_content_type_guess (job->name, head, head_len, NULL);
  job->mime = g_content_type_get_mime_type (content_type);
  if (job->mime == NULL || strchr (job->mime, '/') == NULL || strlen (job->mime) < 3 || strlen (job->mime) > 128)
    {
      g_free (job->mime);
      job->mime = g_strdup ("application/octet-stream");
    }

  job->hash = companion_mirror_store_import_media_file (job->store, G_INPUT_STREAM (stream),
                                                        COMPANION_DESKTOP_SYNC_MAX_FILE_SIZE, &job->size,
                                                        cancellable, &error);
  if (job->hash == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) || error->domain != G_IO_ERROR)
        g_task_return_error (task, g_steal_pointer (&error));
      else
        g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_UNREADABLE,
                                 "Cannot read “%s”: %s", shown, error->message);
      return;
    }
  if (job->size == 0)
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_EMPTY,
                               "“%s” is empty; there is nothing to send", shown);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

/* Back on the caller's thread: the file is in the media folder, the
 * command goes into the outbox. */
static void
on_file_copied (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  CompanionDesktopSync *self = g_task_get_source_object (task);
  SendFile *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(JsonObject) media = NULL;
  g_autoptr(JsonObject) fields = NULL;
  g_autoptr(GError) error = NULL;
  char *client_id;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  media = json_object_new ();
  json_object_set_string_member (media, "hash", job->hash);
  json_object_set_string_member (media, "kind", kind_for_mime (job->mime));
  json_object_set_string_member (media, "mime", job->mime);
  json_object_set_string_member (media, "name", job->name);
  json_object_set_int_member (media, "size", (gint64) job->size);
  if (!companion_record_validate (COMPANION_ENTITY_MEDIA, media, &error))
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_INVALID,
                               "The file cannot be described to the phone: %s", error->message);
      return;
    }

  fields = json_object_new ();
  json_object_set_string_member (fields, "chat", job->chat_id);
  json_object_set_string_member (fields, "text", job->caption != NULL ? job->caption : "");
  json_object_set_string_member (fields, "media", job->hash);
  client_id = queue (self, "message-out", fields, media, &error);
  if (client_id == NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_pointer (task, client_id, g_free);
}

void
companion_desktop_sync_send_file_async (CompanionDesktopSync *self,
                                        const char           *chat_id,
                                        GFile                *file,
                                        const char           *caption,
                                        GCancellable         *cancellable,
                                        GAsyncReadyCallback   callback,
                                        gpointer              user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) worker = NULL;
  g_autoptr(JsonObject) chat = NULL;
  g_autoptr(GError) error = NULL;
  SendFile *job;

  g_return_if_fail (COMPANION_IS_DESKTOP_SYNC (self));
  g_return_if_fail (chat_id != NULL);
  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, companion_desktop_sync_send_file_async);

  /* Checked here, on the store's thread, before any copying. */
  if (caption != NULL && (strlen (caption) > MAX_CAPTION_BYTES || !g_utf8_validate (caption, -1, NULL)))
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_INVALID,
                               "A caption is UTF-8 text of at most %d bytes", MAX_CAPTION_BYTES);
      return;
    }
  if (companion_record_id_is_valid (COMPANION_ENTITY_CHAT, chat_id))
    chat = companion_mirror_store_lookup (self->store, COMPANION_ENTITY_CHAT, chat_id, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (chat == NULL)
    {
      g_task_return_new_error (task, COMPANION_DESKTOP_SYNC_ERROR, COMPANION_DESKTOP_SYNC_ERROR_UNKNOWN_CHAT,
                               "The mirror has no chat “%.64s”", chat_id);
      return;
    }

  job = g_new0 (SendFile, 1);
  job->store = self->store;
  job->chat_id = g_strdup (chat_id);
  job->file = g_object_ref (file);
  job->caption = g_strdup (caption);
  /* The worker holds no reference to self: GTask may drop its last
   * reference on the worker thread, and self must end on this one. The
   * outer task keeps self alive until on_file_copied. */
  worker = g_task_new (NULL, cancellable, on_file_copied, g_steal_pointer (&task));
  g_task_set_source_tag (worker, send_file_thread);
  g_task_set_task_data (worker, job, (GDestroyNotify) send_file_free);
  g_task_run_in_thread (worker, send_file_thread);
}

char *
companion_desktop_sync_send_file_finish (CompanionDesktopSync *self,
                                         GAsyncResult         *result,
                                         GError              **error)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SYNC (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == companion_desktop_sync_send_file_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
