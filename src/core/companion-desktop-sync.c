/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-desktop-sync"

#include "config.h"

#include "companion-desktop-sync.h"
#include "companion-record.h"
#include "companion-session-protocol.h"
#include "companion-sync-protocol.h"

struct _CompanionDesktopSync
{
  GObject                 parent_instance;

  CompanionDesktopServer *server;
  CompanionMirrorStore   *store;
  gboolean                stopped;   /* a refused page: wait for the next session */
  guint64                 head;      /* the phone's last change, as it last said */
  GPtrArray              *pages;     /* PendingPage: received, not committed yet */
  guint                   flush_id;  /* commits the pages when no more are waiting */
};

/* A snapshot page kept until it is committed with the ones after it. */
typedef struct
{
  JsonObject            *page;      /* holds the records */
  CompanionSnapshotPage  snapshot;
} PendingPage;

static void
pending_page_free (PendingPage *pending)
{
  g_ptr_array_unref (pending->snapshot.records);
  json_object_unref (pending->page);
  g_free (pending);
}

G_DEFINE_FINAL_TYPE (CompanionDesktopSync, companion_desktop_sync, G_TYPE_OBJECT)

enum {
  SIGNAL_PROGRESS,
  SIGNAL_SYNCED,
  SIGNAL_FAILED,
  SIGNAL_COMMAND_DONE,
  SIGNAL_COMMAND_FAILED,
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

static void
on_command_reply (CompanionDesktopServer *server,
                  const char             *type,
                  JsonObject             *record,
                  CompanionDesktopSync   *self)
{
  g_autoptr(GError) error = NULL;
  const char *client_id = json_object_get_string_member_with_default (record, "client_id", NULL);
  gboolean removed = FALSE;

  if (client_id == NULL || !companion_record_id_is_valid (COMPANION_ENTITY_MESSAGE, client_id))
    return;
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
                                               json_object_get_string_member_with_default (record, "message", "no reason given"));
      g_signal_emit (self, signals[SIGNAL_COMMAND_FAILED], 0, client_id, refused);
    }
}

char *
companion_desktop_sync_queue_command (CompanionDesktopSync *self,
                                      const char           *event,
                                      JsonObject           *fields,
                                      GError              **error)
{
  g_autoptr(JsonObject) command = NULL;
  g_autofree char *client_id = NULL;

  g_return_val_if_fail (COMPANION_IS_DESKTOP_SYNC (self), NULL);
  g_return_val_if_fail (event != NULL && fields != NULL, NULL);

  if (!g_strv_contains (command_events, event))
    {
      g_set_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                   "“%.32s” is not something the desktop can ask of the phone", event);
      return NULL;
    }

  client_id = g_uuid_string_random ();
  command = json_object_new ();
  json_object_set_string_member (command, "event", event);
  json_object_set_object_member (command, "fields", json_object_ref (fields));
  /* Persisted first: the command survives a crash or an absent phone. */
  if (!companion_mirror_store_outbox_add (self->store, client_id, command, error))
    return NULL;
  if (companion_desktop_server_is_connected (self->server))
    send_command (self, client_id, command);
  return g_steal_pointer (&client_id);
}

static void
on_connected (CompanionDesktopSync *self)
{
  g_autoptr(JsonObject) request = json_object_new ();
  g_autoptr(GError) error = NULL;
  guint64 cursor = companion_mirror_store_get_cursor (self->store);

  /* Pages of an earlier session that were never committed nor acknowledged. */
  g_ptr_array_set_size (self->pages, 0);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  self->stopped = FALSE;
  self->head = 0;
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

/* Commits the pages received so far in one transaction, then acknowledges
 * each. FALSE when they were refused (the sync stops). */
static gboolean
flush_pages (CompanionDesktopSync *self)
{
  g_autoptr(GPtrArray) pages = g_steal_pointer (&self->pages);
  g_autoptr(GArray) snapshot = g_array_sized_new (FALSE, FALSE, sizeof (CompanionSnapshotPage), pages->len);
  g_autoptr(GError) error = NULL;

  self->pages = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_page_free);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  if (pages->len == 0)
    return !self->stopped;

  for (guint i = 0; i < pages->len; i++)
    g_array_append_val (snapshot, ((PendingPage *) g_ptr_array_index (pages, i))->snapshot);
  if (!companion_mirror_store_apply_snapshot_pages (self->store, (CompanionSnapshotPage *) snapshot->data,
                                                    snapshot->len, &error))
    {
      fail (self, g_steal_pointer (&error));
      return FALSE;
    }
  for (guint i = 0; i < pages->len; i++)
    {
      PendingPage *pending = g_ptr_array_index (pages, i);

      acknowledge (self);
      g_signal_emit (self, signals[SIGNAL_PROGRESS], 0,
                     companion_entity_to_string (pending->snapshot.entity),
                     pending->snapshot.records->len);
    }
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

static void
on_snapshot (CompanionDesktopServer *server,
             const char             *type,
             JsonObject             *record,
             CompanionDesktopSync   *self)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  const char *entity_name = json_object_get_string_member_with_default (record, "entity", "");
  JsonNode *list = json_object_get_member (record, "records");
  CompanionEntity entity;
  PendingPage *pending;
  JsonArray *array;

  if (self->stopped)
    return;
  if (!companion_entity_from_string (entity_name, &entity))
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
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);

      if (!JSON_NODE_HOLDS_OBJECT (item))
        {
          fail (self, protocol_error ("A snapshot page holds something that is not a record"));
          return;
        }
      g_ptr_array_add (records, json_node_get_object (item));
    }

  /* The chat list (chats, then their previews) is committed as soon as
   * the next kind of record arrives, not held back with a whole batch. */
  if (self->pages->len > 0 &&
      ((PendingPage *) g_ptr_array_index (self->pages, self->pages->len - 1))->snapshot.entity != entity &&
      !flush_pages (self))
    return;

  pending = g_new0 (PendingPage, 1);
  pending->page = json_object_ref (record);
  pending->snapshot.entity = entity;
  pending->snapshot.records = g_steal_pointer (&records);
  g_ptr_array_add (self->pages, pending);

  /* Pages that arrive together are committed together: each commit writes
   * every database page it touched again. Each is still acknowledged only
   * once committed. */
  if (self->pages->len >= COMPANION_SYNC_COMMIT_PAGES)
    flush_pages (self);
  else if (self->flush_id == 0)
    self->flush_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, flush_when_idle, self, NULL);
}

static void
on_snapshot_end (CompanionDesktopServer *server,
                 const char             *type,
                 JsonObject             *record,
                 CompanionDesktopSync   *self)
{
  g_autoptr(GError) error = NULL;
  gint64 seq = json_object_get_int_member_with_default (record, "seq", -1);

  if (!flush_pages (self))
    return;
  if (seq < 0)
    {
      fail (self, protocol_error ("The snapshot's end has no “seq”"));
      return;
    }
  if (!companion_mirror_store_finish_snapshot (self->store, (guint64) seq, &error))
    {
      fail (self, g_steal_pointer (&error));
      return;
    }
  self->head = (guint64) MAX (seq, json_object_get_int_member_with_default (record, "head", seq));
  acknowledge (self);
  g_signal_emit (self, signals[SIGNAL_SYNCED], 0, (guint64) seq);
}

static void
on_changes (CompanionDesktopServer *server,
            const char             *type,
            JsonObject             *record,
            CompanionDesktopSync   *self)
{
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  g_autoptr(GError) error = NULL;
  JsonNode *list = json_object_get_member (record, "changes");
  JsonArray *array;

  if (!flush_pages (self))
    return;
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
  self->head = (guint64) MAX (0, json_object_get_int_member_with_default (record, "head", 0));
  acknowledge (self);
  g_signal_emit (self, signals[SIGNAL_SYNCED], 0, companion_mirror_store_get_cursor (self->store));
}

static void
companion_desktop_sync_dispose (GObject *object)
{
  CompanionDesktopSync *self = COMPANION_DESKTOP_SYNC (object);

  if (self->server != NULL)
    g_signal_handlers_disconnect_by_data (self->server, self);
  g_clear_object (&self->server);
  g_clear_object (&self->store);
  g_clear_handle_id (&self->flush_id, g_source_remove);
  g_clear_pointer (&self->pages, g_ptr_array_unref);

  G_OBJECT_CLASS (companion_desktop_sync_parent_class)->dispose (object);
}

static void
companion_desktop_sync_class_init (CompanionDesktopSyncClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  object_class->dispose = companion_desktop_sync_dispose;

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
}

static void
companion_desktop_sync_init (CompanionDesktopSync *self)
{
  self->pages = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_page_free);
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
  g_signal_connect_swapped (server, "connected", G_CALLBACK (on_connected), self);
  g_signal_connect (server, "session-record::snapshot", G_CALLBACK (on_snapshot), self);
  g_signal_connect (server, "session-record::snapshot-end", G_CALLBACK (on_snapshot_end), self);
  g_signal_connect (server, "session-record::changes", G_CALLBACK (on_changes), self);
  g_signal_connect (server, "session-record::command-ack", G_CALLBACK (on_command_reply), self);
  g_signal_connect (server, "session-record::command-error", G_CALLBACK (on_command_reply), self);
  return self;
}

gboolean
companion_desktop_sync_is_up_to_date (CompanionDesktopSync *self)
{
  g_return_val_if_fail (COMPANION_IS_DESKTOP_SYNC (self), FALSE);

  return self->head > 0 && companion_mirror_store_get_cursor (self->store) >= self->head;
}
