/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-phone-events"

#include "config.h"

#include <sqlite3.h>
#include <string.h>

#include "companion-media-sample.h"
#include "companion-phone-events.h"

/* How far back "read" looks for outgoing messages still "delivered". */
#define READ_RECEIPT_WINDOW 1000
#define BUSY_TIMEOUT        5000
#define MAX_UNREAD          1000000

G_DEFINE_QUARK (companion-phone-events-error-quark, companion_phone_events_error)

static const char * const event_types[] = {
  "message-in", "message-out", "edit", "delete", "react", "read", "delivered", "status",
  "call", "chat", "media", "chat-new", NULL
};

/* Lookups go through a read-only connection of our own: the store's API has
 * no per-record getter, and WAL lets a reader see each commit at once. */
typedef enum
{
  Q_CHAT,
  Q_MESSAGE,
  Q_CONTACT,
  Q_MEDIA,
  Q_CALL,
  Q_NEWEST,
  Q_RECENT_OUTGOING,
  N_QUERIES
} Query;

static const char * const query_sql[N_QUERIES] = {
  [Q_CHAT] = "SELECT record FROM chats WHERE id = ?1",
  [Q_MESSAGE] = "SELECT record FROM messages WHERE id = ?1",
  [Q_CONTACT] = "SELECT 1 FROM contacts WHERE id = ?1",
  [Q_MEDIA] = "SELECT 1 FROM media WHERE hash = ?1",
  [Q_CALL] = "SELECT 1 FROM calls WHERE id = ?1",
  [Q_NEWEST] = "SELECT max(time) FROM messages WHERE chat = ?1",
  [Q_RECENT_OUTGOING] = "SELECT record FROM (SELECT sender, record FROM messages WHERE chat = ?1"
                        " ORDER BY time DESC, id DESC LIMIT ?2) WHERE sender IS NULL",
};

struct _CompanionPhoneEvents
{
  GObject              parent_instance;

  CompanionPhoneStore *store;
  sqlite3             *db;
  sqlite3_stmt        *queries[N_QUERIES];
  gint64               clock_ms;
  GRand               *rand;
};

G_DEFINE_FINAL_TYPE (CompanionPhoneEvents, companion_phone_events, G_TYPE_OBJECT)

/* One event being turned into changes. */
typedef struct
{
  CompanionPhoneEvents *self;
  const char           *type;
  JsonObject           *fields;
  GPtrArray            *changes;  /* CompanionChange */
} Event;

/* ---- errors and fields ------------------------------------------------------ */

static gboolean G_GNUC_PRINTF (5, 6)
field_error (Event      *ev,
             GError    **error,
             gint        code,
             const char *field,
             const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, COMPANION_PHONE_EVENTS_ERROR, code, "%s: “%s”: %s", ev->type, field, message);
  return FALSE;
}

static gboolean
check_members (Event              *ev,
               const char * const *allowed,
               GError            **error)
{
  JsonObjectIter iter;
  const char *name;

  json_object_iter_init (&iter, ev->fields);
  while (json_object_iter_next (&iter, &name, NULL))
    if (!g_str_equal (name, "type") && !g_strv_contains (allowed, name))
      {
        g_autofree char *known = g_strjoinv (", ", (GStrv) allowed);
        return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name,
                            "unknown field (known: %s)", known);
      }
  return TRUE;
}

/* An absent or null member: FALSE from the getters below with no error. */
static JsonNode *
member (Event      *ev,
        const char *name)
{
  JsonNode *node = json_object_get_member (ev->fields, name);

  return node == NULL || JSON_NODE_HOLDS_NULL (node) ? NULL : node;
}

static gboolean
get_string (Event       *ev,
            const char  *name,
            gboolean     required,
            const char **out,
            GError     **error)
{
  JsonNode *node = member (ev, name);

  *out = NULL;
  if (node == NULL)
    return required ? field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name,
                                   "is required")
                    : TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name, "must be a string");
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
get_id (Event          *ev,
        const char     *name,
        CompanionEntity entity,
        gboolean        required,
        const char    **out,
        GError        **error)
{
  if (!get_string (ev, name, required, out, error))
    return FALSE;
  if (*out != NULL && !companion_record_id_is_valid (entity, *out))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name,
                        "“%s” is not a valid %s id", *out,
                        entity == COMPANION_ENTITY_MEDIA ? "media hash" : companion_entity_to_string (entity));
  return TRUE;
}

/* -1: absent; else 0 or 1. */
static gboolean
get_bool (Event      *ev,
          const char *name,
          int        *out,
          GError    **error)
{
  JsonNode *node = member (ev, name);

  *out = -1;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name, "must be true or false");
  *out = json_node_get_boolean (node) ? 1 : 0;
  return TRUE;
}

static gboolean
get_int (Event      *ev,
         const char *name,
         gint64      min,
         gint64      max,
         gboolean   *present,
         gint64     *out,
         GError    **error)
{
  JsonNode *node = member (ev, name);

  *present = FALSE;
  if (node == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name, "must be an integer");
  *out = json_node_get_int (node);
  if (*out < min || *out > max)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name,
                        "must be from %" G_GINT64_FORMAT " to %" G_GINT64_FORMAT, min, max);
  *present = TRUE;
  return TRUE;
}

static gboolean
get_enum (Event              *ev,
          const char         *name,
          const char * const *values,
          const char         *fallback,
          const char        **out,
          GError            **error)
{
  if (!get_string (ev, name, fallback == NULL, out, error))
    return FALSE;
  if (*out == NULL)
    *out = fallback;
  if (!g_strv_contains (values, *out))
    {
      g_autofree char *known = g_strjoinv (", ", (GStrv) values);
      return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name,
                          "must be one of %s, not “%s”", known, *out);
    }
  return TRUE;
}

/* ---- lookups ------------------------------------------------------------------ */

static sqlite3_stmt *
query (CompanionPhoneEvents *self,
       Query                 q,
       const char           *id)
{
  sqlite3_stmt *stmt = self->queries[q];

  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  sqlite3_bind_text (stmt, 1, id, -1, SQLITE_TRANSIENT);
  return stmt;
}

static gboolean
db_failed (CompanionPhoneEvents *self,
           sqlite3_stmt         *stmt,
           GError              **error)
{
  g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_FAILED,
               "Reading the phone database: %s", sqlite3_errmsg (self->db));
  sqlite3_reset (stmt);
  return FALSE;
}

static JsonObject *
parse_object (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (text == NULL || !json_parser_load_from_data (parser, text, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* TRUE with *RECORD_OUT NULL when there is no such record. */
static gboolean
lookup (CompanionPhoneEvents *self,
        Query                 q,
        const char           *id,
        JsonObject          **record_out,
        GError              **error)
{
  sqlite3_stmt *stmt = query (self, q, id);
  int rc = sqlite3_step (stmt);

  *record_out = NULL;
  if (rc == SQLITE_ROW)
    {
      *record_out = parse_object ((const char *) sqlite3_column_text (stmt, 0));
      sqlite3_reset (stmt);
      if (*record_out == NULL)
        {
          g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_CORRUPT,
                       "A stored record “%s” is not JSON", id);
          return FALSE;
        }
      return TRUE;
    }
  if (rc != SQLITE_DONE)
    return db_failed (self, stmt, error);
  sqlite3_reset (stmt);
  return TRUE;
}

/* 1 found, 0 not, -1 error. */
static int
exists (CompanionPhoneEvents *self,
        Query                 q,
        const char           *id,
        GError              **error)
{
  sqlite3_stmt *stmt = query (self, q, id);
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return db_failed (self, stmt, error) ? 0 : -1;
  sqlite3_reset (stmt);
  return rc == SQLITE_ROW;
}

static gint64
now_ms (CompanionPhoneEvents *self)
{
  return self->clock_ms != 0 ? self->clock_ms : g_get_real_time () / 1000;
}

/* Now, but after the chat's newest message. -1 on error. */
static gint64
message_time (CompanionPhoneEvents *self,
              const char           *chat,
              GError              **error)
{
  sqlite3_stmt *stmt = query (self, Q_NEWEST, chat);
  gint64 time = now_ms (self);
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_ROW)
    return db_failed (self, stmt, error) ? 0 : -1;
  if (sqlite3_column_type (stmt, 0) != SQLITE_NULL)
    time = MAX (time, sqlite3_column_int64 (stmt, 0) + 1);
  sqlite3_reset (stmt);
  return time;
}

static gboolean
need_chat (Event       *ev,
           const char  *field,
           const char  *id,
           JsonObject **chat_out,
           GError     **error)
{
  if (!lookup (ev->self, Q_CHAT, id, chat_out, error))
    return FALSE;
  if (*chat_out == NULL)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_NOT_FOUND, field, "no chat “%s”", id);
  return TRUE;
}

static gboolean
need_message (Event       *ev,
              const char  *field,
              const char  *id,
              JsonObject **message_out,
              GError     **error)
{
  if (!lookup (ev->self, Q_MESSAGE, id, message_out, error))
    return FALSE;
  if (*message_out == NULL)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_NOT_FOUND, field, "no message “%s”", id);
  return TRUE;
}

static gboolean
is_participant (JsonObject *chat,
                const char *contact)
{
  JsonArray *participants = json_object_get_array_member (chat, "participants");

  for (guint i = 0; i < json_array_get_length (participants); i++)
    if (g_str_equal (json_array_get_string_element (participants, i), contact))
      return TRUE;
  return FALSE;
}

static gboolean
is_deleted (JsonObject *message)
{
  return json_object_get_boolean_member_with_default (message, "deleted", FALSE);
}

/* A fresh id PREFIX-N, N the next sequence number (bumped past ids taken). */
static char *
new_id (CompanionPhoneEvents *self,
        Query                 q,
        const char           *prefix,
        GError              **error)
{
  guint64 n = companion_phone_store_get_last_seq (self->store) + 1;

  for (;; n++)
    {
      g_autofree char *id = g_strdup_printf ("%s-%" G_GUINT64_FORMAT, prefix, n);
      int found = exists (self, q, id, error);

      if (found < 0)
        return NULL;
      if (found == 0)
        return g_steal_pointer (&id);
    }
}

static void
add_change (Event          *ev,
            CompanionEntity entity,
            JsonObject     *record)
{
  g_ptr_array_add (ev->changes, companion_change_new_upsert (0, entity, record));
}

/* Sorted, no repeats, every contact known. */
static JsonArray *
get_participants (Event      *ev,
                  const char *name,
                  GError    **error)
{
  JsonNode *node = member (ev, name);
  g_autoptr(GPtrArray) ids = g_ptr_array_new ();
  JsonArray *array, *sorted;

  if (node == NULL)
    {
      field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name, "is required");
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name, "must be an array of contact ids");
      return NULL;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) == 0)
    {
      field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name, "must not be empty");
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      const char *id;
      int found;

      if (!JSON_NODE_HOLDS_VALUE (element) || json_node_get_value_type (element) != G_TYPE_STRING ||
          !companion_record_id_is_valid (COMPANION_ENTITY_CONTACT, json_node_get_string (element)))
        {
          field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name,
                       "element %u is not a contact id", i);
          return NULL;
        }
      id = json_node_get_string (element);
      found = exists (ev->self, Q_CONTACT, id, error);
      if (found < 0)
        return NULL;
      if (found == 0)
        {
          field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_NOT_FOUND, name, "no contact “%s”", id);
          return NULL;
        }
      g_ptr_array_add (ids, (gpointer) id);
    }
  g_ptr_array_sort (ids, companion_compare_strings);
  sorted = json_array_new ();
  for (guint i = 0; i < ids->len; i++)
    {
      if (i > 0 && g_str_equal (g_ptr_array_index (ids, i), g_ptr_array_index (ids, i - 1)))
        {
          field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, name,
                       "“%s” is given twice", (const char *) g_ptr_array_index (ids, i));
          json_array_unref (sorted);
          return NULL;
        }
      json_array_add_string_element (sorted, g_ptr_array_index (ids, i));
    }
  return sorted;
}

/* ---- media files ---------------------------------------------------------------- */

static guint
rand_below (GRand *rand,
            guint  n)
{
  return (guint) g_rand_int_range (rand, 0, (gint32) n);
}

/* Writes a small file of KIND into the store and returns its media record. */
static JsonObject *
make_media (CompanionPhoneEvents *self,
            const char           *kind,
            guint64               number,
            GError              **error)
{
  g_autoptr(JsonObject) record = json_object_new ();
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *hash = NULL;
  g_autofree char *name = NULL;
  guint width = 0, height = 0, duration_ms = 0;
  g_autofree char *thumbnail = NULL;
  const char *mime;

  if (g_str_equal (kind, "image"))
    {
      /* A random index: live images never repeat generated ones. */
      bytes = companion_media_sample_png (self->rand, g_rand_int (self->rand), &width, &height, &thumbnail);
      mime = "image/png";
      name = g_strdup_printf ("IMG_live_%05" G_GUINT64_FORMAT ".png", number);
    }
  else if (g_str_equal (kind, "voice"))
    {
      bytes = companion_media_sample_wav (self->rand, (guint) number, &duration_ms);
      mime = "audio/wav";
      name = g_strdup_printf ("voice-note-live-%05" G_GUINT64_FORMAT ".wav", number);
    }
  else
    {
      g_autofree char *title = g_strdup_printf ("Companion live document %" G_GUINT64_FORMAT " %08x",
                                                number, g_rand_int (self->rand));
      bytes = companion_media_sample_pdf (title);
      mime = "application/pdf";
      name = g_strdup_printf ("Document %" G_GUINT64_FORMAT ".pdf", number);
    }

  hash = companion_phone_store_add_media_bytes (self->store, bytes, error);
  if (hash == NULL)
    return NULL;
  json_object_set_string_member (record, "hash", hash);
  json_object_set_string_member (record, "kind", kind);
  json_object_set_string_member (record, "mime", mime);
  json_object_set_string_member (record, "name", name);
  json_object_set_int_member (record, "size", (gint64) g_bytes_get_size (bytes));
  if (width > 0)
    {
      json_object_set_int_member (record, "width", width);
      json_object_set_int_member (record, "height", height);
    }
  if (thumbnail != NULL)
    json_object_set_string_member (record, "thumbnail", thumbnail);
  if (duration_ms > 0)
    json_object_set_int_member (record, "duration_ms", duration_ms);
  return g_steal_pointer (&record);
}

/* ---- the events -------------------------------------------------------------------- */

static void
bump_unread (Event      *ev,
             JsonObject *chat)
{
  gint64 unread = json_object_get_int_member_with_default (chat, "unread", 0);

  json_object_set_int_member (chat, "unread", MIN (unread + 1, MAX_UNREAD));
  add_change (ev, COMPANION_ENTITY_CHAT, chat);
}

/* The sender for FROM in CHAT: a participant, "me" (NULL) when allowed, or
 * a participant at random when FROM is NULL. */
static gboolean
resolve_sender (Event       *ev,
                JsonObject  *chat,
                const char  *from,
                gboolean     me_allowed,
                const char **sender_out,
                GError     **error)
{
  JsonArray *participants = json_object_get_array_member (chat, "participants");

  if (from == NULL)
    {
      *sender_out = json_array_get_string_element (participants,
                                                   rand_below (ev->self->rand,
                                                               json_array_get_length (participants)));
      return TRUE;
    }
  if (me_allowed && g_str_equal (from, "me"))
    {
      *sender_out = NULL;
      return TRUE;
    }
  if (!is_participant (chat, from))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "from",
                        "“%s” is not in chat “%s”", from, json_object_get_string_member (chat, "id"));
  *sender_out = from;
  return TRUE;
}

/* Whether EXISTING is the message a repeat of this event would make. */
static gboolean
same_message (JsonObject *existing,
              const char *chat,
              const char *from,
              const char *text,
              const char *media,
              const char *reply_to)
{
  const char *old_from = json_object_get_string_member_with_default (existing, "from", NULL);

  if (g_strcmp0 (json_object_get_string_member (existing, "chat"), chat) != 0 ||
      g_strcmp0 (old_from, from) != 0)
    return FALSE;
  /* A message deleted or edited since keeps being the same message. */
  if (is_deleted (existing))
    return TRUE;
  return g_strcmp0 (json_object_get_string_member_with_default (existing, "media", NULL), media) == 0 &&
         g_strcmp0 (json_object_get_string_member_with_default (existing, "reply_to", NULL), reply_to) == 0 &&
         (g_strcmp0 (json_object_get_string_member (existing, "text"), text) == 0 ||
          json_object_has_member (existing, "edited_at"));
}

/* message-in, message-out and media. */
static gboolean
build_message (Event      *ev,
               gboolean    outgoing,
               gboolean    with_media,
               GError    **error)
{
  static const char * const in_members[] = { "chat", "from", "text", "media", "reply_to", "id", NULL };
  static const char * const out_members[] = { "chat", "text", "media", "reply_to", "id", NULL };
  static const char * const media_members[] = { "chat", "kind", "from", "text", "reply_to", "id", NULL };
  static const char * const media_kinds[] = { "image", "voice", "document", NULL };
  CompanionPhoneEvents *self = ev->self;
  g_autoptr(JsonObject) chat = NULL;
  g_autoptr(JsonObject) existing = NULL;
  g_autoptr(JsonObject) media_record = NULL;
  g_autoptr(JsonObject) record = NULL;
  g_autofree char *new_message_id = NULL;
  const char *chat_id, *from = NULL, *text, *media = NULL, *reply_to, *id, *kind = NULL, *sender = NULL;
  gint64 time;

  if (!check_members (ev, with_media ? media_members : outgoing ? out_members : in_members, error) ||
      !get_id (ev, "chat", COMPANION_ENTITY_CHAT, TRUE, &chat_id, error) ||
      (!outgoing && !get_string (ev, "from", FALSE, &from, error)) ||
      !get_string (ev, "text", FALSE, &text, error) ||
      (with_media && !get_enum (ev, "kind", media_kinds, NULL, &kind, error)) ||
      (!with_media && !get_id (ev, "media", COMPANION_ENTITY_MEDIA, FALSE, &media, error)) ||
      !get_id (ev, "reply_to", COMPANION_ENTITY_MESSAGE, FALSE, &reply_to, error) ||
      !get_id (ev, "id", COMPANION_ENTITY_MESSAGE, FALSE, &id, error))
    return FALSE;
  if (text == NULL)
    text = "";
  if (*text == '\0' && media == NULL && !with_media)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "text",
                        "give a non-empty “text” or a “media”");
  if (!need_chat (ev, "chat", chat_id, &chat, error))
    return FALSE;
  if (!outgoing && !resolve_sender (ev, chat, from, with_media, &sender, error))
    return FALSE;
  if (media != NULL)
    {
      int found = exists (self, Q_MEDIA, media, error);
      if (found < 0)
        return FALSE;
      if (found == 0)
        return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_NOT_FOUND, "media", "no media “%s”", media);
    }
  if (reply_to != NULL)
    {
      g_autoptr(JsonObject) replied = NULL;

      if (!need_message (ev, "reply_to", reply_to, &replied, error))
        return FALSE;
      if (!g_str_equal (json_object_get_string_member (replied, "chat"), chat_id))
        return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "reply_to",
                            "message “%s” is in another chat", reply_to);
    }

  if (id != NULL)
    {
      if (!lookup (self, Q_MESSAGE, id, &existing, error))
        return FALSE;
      /* An explicit id makes the event idempotent. A media event's file is
       * new each time, so a repeat only has to match the rest. */
      if (existing != NULL)
        {
          const char *old_media = json_object_get_string_member_with_default (existing, "media", NULL);

          if (same_message (existing, chat_id, sender, text, with_media ? old_media : media, reply_to))
            return TRUE;
          return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_CONFLICT, "id",
                              "message “%s” already exists with other content", id);
        }
    }
  else
    {
      new_message_id = new_id (self, Q_MESSAGE, "m-live", error);
      if (new_message_id == NULL)
        return FALSE;
      id = new_message_id;
    }

  time = message_time (self, chat_id, error);
  if (time < 0)
    return FALSE;

  if (with_media)
    {
      if (sender == NULL)
        outgoing = TRUE;
      media_record = make_media (self, kind, companion_phone_store_get_last_seq (self->store) + 1, error);
      if (media_record == NULL)
        return FALSE;
      media = json_object_get_string_member (media_record, "hash");
      add_change (ev, COMPANION_ENTITY_MEDIA, media_record);
    }

  record = json_object_new ();
  json_object_set_string_member (record, "id", id);
  json_object_set_string_member (record, "chat", chat_id);
  if (!outgoing)
    json_object_set_string_member (record, "from", sender);
  json_object_set_int_member (record, "time", time);
  json_object_set_string_member (record, "text", text);
  if (media != NULL)
    json_object_set_string_member (record, "media", media);
  if (reply_to != NULL)
    json_object_set_string_member (record, "reply_to", reply_to);
  if (outgoing)
    json_object_set_string_member (record, "status", "sent");
  json_object_set_boolean_member (record, "deleted", FALSE);
  add_change (ev, COMPANION_ENTITY_MESSAGE, record);
  if (!outgoing)
    bump_unread (ev, chat);
  return TRUE;
}

static gboolean
build_edit (Event   *ev,
            GError **error)
{
  static const char * const members[] = { "message", "text", NULL };
  g_autoptr(JsonObject) message = NULL;
  const char *id, *text;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "message", COMPANION_ENTITY_MESSAGE, TRUE, &id, error) ||
      !get_string (ev, "text", TRUE, &text, error) ||
      !need_message (ev, "message", id, &message, error))
    return FALSE;
  if (is_deleted (message))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "message",
                        "message “%s” is deleted", id);
  if (*text == '\0' && !json_object_has_member (message, "media"))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "text",
                        "must not be empty in a message without media");
  if (g_str_equal (json_object_get_string_member (message, "text"), text))
    return TRUE;
  json_object_set_string_member (message, "text", text);
  json_object_set_int_member (message, "edited_at",
                              MAX (now_ms (ev->self), json_object_get_int_member (message, "time")));
  add_change (ev, COMPANION_ENTITY_MESSAGE, message);
  return TRUE;
}

static gboolean
build_delete (Event   *ev,
              GError **error)
{
  static const char * const members[] = { "message", NULL };
  g_autoptr(JsonObject) message = NULL;
  const char *id;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "message", COMPANION_ENTITY_MESSAGE, TRUE, &id, error) ||
      !need_message (ev, "message", id, &message, error))
    return FALSE;
  if (is_deleted (message))
    return TRUE;
  json_object_set_string_member (message, "text", "");
  json_object_set_boolean_member (message, "deleted", TRUE);
  json_object_remove_member (message, "media");
  json_object_remove_member (message, "reactions");
  json_object_remove_member (message, "edited_at");
  add_change (ev, COMPANION_ENTITY_MESSAGE, message);
  return TRUE;
}

static gboolean
build_react (Event   *ev,
             GError **error)
{
  static const char * const members[] = { "message", "from", "emoji", NULL };
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) chat = NULL;
  JsonObject *reactions;
  const char *id, *from, *emoji;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "message", COMPANION_ENTITY_MESSAGE, TRUE, &id, error) ||
      !get_string (ev, "from", FALSE, &from, error) ||
      !get_string (ev, "emoji", FALSE, &emoji, error))
    return FALSE;
  if (from == NULL)
    from = "me";
  if (emoji != NULL && (*emoji == '\0' || strlen (emoji) > 32))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "emoji",
                        "must be one emoji of 1–32 bytes, or null to remove the reaction");
  if (!need_message (ev, "message", id, &message, error))
    return FALSE;
  if (is_deleted (message))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "message",
                        "message “%s” is deleted", id);
  if (!g_str_equal (from, "me"))
    {
      if (!need_chat (ev, "message", json_object_get_string_member (message, "chat"), &chat, error))
        return FALSE;
      if (!is_participant (chat, from))
        return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "from",
                            "“%s” is not in chat “%s”", from, json_object_get_string_member (chat, "id"));
    }

  reactions = json_object_has_member (message, "reactions")
                ? json_object_get_object_member (message, "reactions") : NULL;
  if (emoji == NULL)
    {
      if (reactions == NULL || !json_object_has_member (reactions, from))
        return TRUE;
      json_object_remove_member (reactions, from);
      if (json_object_get_size (reactions) == 0)
        json_object_remove_member (message, "reactions");
    }
  else
    {
      if (reactions == NULL)
        {
          reactions = json_object_new ();
          json_object_set_object_member (message, "reactions", reactions);
        }
      else if (g_strcmp0 (json_object_get_string_member_with_default (reactions, from, NULL), emoji) == 0)
        return TRUE;
      json_object_set_string_member (reactions, from, emoji);
    }
  add_change (ev, COMPANION_ENTITY_MESSAGE, message);
  return TRUE;
}

static gboolean
build_read (Event   *ev,
            GError **error)
{
  static const char * const members[] = { "chat", NULL };
  g_autoptr(JsonObject) chat = NULL;
  const char *chat_id;
  sqlite3_stmt *stmt;
  int rc;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "chat", COMPANION_ENTITY_CHAT, TRUE, &chat_id, error) ||
      !need_chat (ev, "chat", chat_id, &chat, error))
    return FALSE;
  if (json_object_get_int_member (chat, "unread") != 0)
    {
      json_object_set_int_member (chat, "unread", 0);
      add_change (ev, COMPANION_ENTITY_CHAT, chat);
    }

  /* The other side read ours too: "delivered" becomes "read". */
  stmt = query (ev->self, Q_RECENT_OUTGOING, chat_id);
  sqlite3_bind_int (stmt, 2, READ_RECEIPT_WINDOW);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(JsonObject) message = parse_object ((const char *) sqlite3_column_text (stmt, 0));

      if (message != NULL &&
          g_strcmp0 (json_object_get_string_member_with_default (message, "status", NULL), "delivered") == 0)
        {
          json_object_set_string_member (message, "status", "read");
          add_change (ev, COMPANION_ENTITY_MESSAGE, message);
        }
    }
  if (rc != SQLITE_DONE)
    return db_failed (ev->self, stmt, error);
  sqlite3_reset (stmt);
  return TRUE;
}

static gboolean
build_status (Event    *ev,
              gboolean  delivered,
              GError  **error)
{
  static const char * const members[] = { "message", "status", NULL };
  static const char * const statuses[] = { "pending", "sent", "delivered", "read", NULL };
  g_autoptr(JsonObject) message = NULL;
  const char *id, *status;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "message", COMPANION_ENTITY_MESSAGE, TRUE, &id, error) ||
      !get_enum (ev, "status", statuses, delivered ? "delivered" : NULL, &status, error) ||
      !need_message (ev, "message", id, &message, error))
    return FALSE;
  if (json_object_has_member (message, "from"))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "message",
                        "message “%s” is incoming: only outgoing messages have a status", id);
  if (g_strcmp0 (json_object_get_string_member_with_default (message, "status", NULL), status) == 0)
    return TRUE;
  json_object_set_string_member (message, "status", status);
  add_change (ev, COMPANION_ENTITY_MESSAGE, message);
  return TRUE;
}

static gboolean
build_call (Event   *ev,
            GError **error)
{
  static const char * const members[] = {
    "id", "from", "participants", "kind", "direction", "missed", "duration_s", NULL
  };
  static const char * const kinds[] = { "voice", "video", NULL };
  static const char * const directions[] = { "incoming", "outgoing", NULL };
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonArray) participants = NULL;
  g_autofree char *new_call_id = NULL;
  const char *id, *from, *kind, *direction;
  gboolean has_duration;
  gint64 duration = 0;
  int missed;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "id", COMPANION_ENTITY_CALL, FALSE, &id, error) ||
      !get_id (ev, "from", COMPANION_ENTITY_CONTACT, FALSE, &from, error) ||
      !get_enum (ev, "kind", kinds, "voice", &kind, error) ||
      !get_enum (ev, "direction", directions, "incoming", &direction, error) ||
      !get_bool (ev, "missed", &missed, error) ||
      !get_int (ev, "duration_s", 0, 86400, &has_duration, &duration, error))
    return FALSE;
  if ((from != NULL) == (member (ev, "participants") != NULL))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "participants",
                        "give either “from” or “participants”");
  if (from != NULL)
    {
      int found = exists (ev->self, Q_CONTACT, from, error);

      if (found < 0)
        return FALSE;
      if (found == 0)
        return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_NOT_FOUND, "from", "no contact “%s”", from);
      participants = json_array_new ();
      json_array_add_string_element (participants, from);
    }
  else if ((participants = get_participants (ev, "participants", error)) == NULL)
    return FALSE;
  if (json_array_get_length (participants) > 64)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "participants",
                        "at most 64 contacts");
  if (missed == 1 && g_str_equal (direction, "outgoing"))
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "missed",
                        "must be false for an outgoing call");
  if (missed == 1 && duration != 0)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "duration_s",
                        "must be 0 for a missed call");
  if (id != NULL)
    {
      int found = exists (ev->self, Q_CALL, id, error);

      if (found < 0)
        return FALSE;
      if (found == 1)
        return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_CONFLICT, "id", "call “%s” already exists", id);
    }
  else
    {
      new_call_id = new_id (ev->self, Q_CALL, "call-live", error);
      if (new_call_id == NULL)
        return FALSE;
      id = new_call_id;
    }

  record = json_object_new ();
  json_object_set_string_member (record, "id", id);
  json_object_set_string_member (record, "kind", kind);
  json_object_set_string_member (record, "direction", direction);
  json_object_set_boolean_member (record, "missed", missed == 1);
  json_object_set_int_member (record, "time", now_ms (ev->self));
  json_object_set_int_member (record, "duration_s", duration);
  json_object_set_array_member (record, "participants", g_steal_pointer (&participants));
  add_change (ev, COMPANION_ENTITY_CALL, record);
  return TRUE;
}

static gboolean
build_chat (Event   *ev,
            GError **error)
{
  static const char * const members[] = { "chat", "title", "muted", "archived", "pinned", "unread", NULL };
  static const char * const flags[] = { "muted", "archived", "pinned" };
  g_autoptr(JsonObject) chat = NULL;
  const char *chat_id, *title;
  gboolean changed = FALSE, has_unread;
  gint64 unread = 0;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "chat", COMPANION_ENTITY_CHAT, TRUE, &chat_id, error) ||
      !get_string (ev, "title", FALSE, &title, error) ||
      !get_int (ev, "unread", 0, MAX_UNREAD, &has_unread, &unread, error))
    return FALSE;
  if (title != NULL && strlen (title) > 256)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "title", "at most 256 bytes");
  if (!need_chat (ev, "chat", chat_id, &chat, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (flags); i++)
    {
      int value;

      if (!get_bool (ev, flags[i], &value, error))
        return FALSE;
      if (value >= 0 && json_object_get_boolean_member (chat, flags[i]) != value)
        {
          json_object_set_boolean_member (chat, flags[i], value);
          changed = TRUE;
        }
    }
  if (title != NULL && !g_str_equal (json_object_get_string_member (chat, "title"), title))
    {
      json_object_set_string_member (chat, "title", title);
      changed = TRUE;
    }
  if (has_unread && json_object_get_int_member (chat, "unread") != unread)
    {
      json_object_set_int_member (chat, "unread", unread);
      changed = TRUE;
    }
  if (changed)
    add_change (ev, COMPANION_ENTITY_CHAT, chat);
  return TRUE;
}

static gboolean
build_chat_new (Event   *ev,
                GError **error)
{
  static const char * const members[] = { "id", "kind", "title", "participants", NULL };
  static const char * const kinds[] = { "direct", "group", NULL };
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonArray) participants = NULL;
  g_autofree char *new_chat_id = NULL;
  const char *id, *kind, *title;

  if (!check_members (ev, members, error) ||
      !get_id (ev, "id", COMPANION_ENTITY_CHAT, FALSE, &id, error) ||
      !get_enum (ev, "kind", kinds, NULL, &kind, error) ||
      !get_string (ev, "title", FALSE, &title, error))
    return FALSE;
  if (title != NULL && strlen (title) > 256)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "title", "at most 256 bytes");
  if ((participants = get_participants (ev, "participants", error)) == NULL)
    return FALSE;
  if (g_str_equal (kind, "direct") && json_array_get_length (participants) != 1)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "participants",
                        "a direct chat has exactly one");
  if (json_array_get_length (participants) > 1024)
    return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD, "participants",
                        "at most 1024 contacts");
  if (id != NULL)
    {
      int found = exists (ev->self, Q_CHAT, id, error);

      if (found < 0)
        return FALSE;
      if (found == 1)
        return field_error (ev, error, COMPANION_PHONE_EVENTS_ERROR_CONFLICT, "id", "chat “%s” already exists", id);
    }
  else
    {
      new_chat_id = new_id (ev->self, Q_CHAT, "ch-live", error);
      if (new_chat_id == NULL)
        return FALSE;
      id = new_chat_id;
    }

  record = json_object_new ();
  json_object_set_string_member (record, "id", id);
  json_object_set_string_member (record, "kind", kind);
  json_object_set_string_member (record, "title", title != NULL ? title : "");
  json_object_set_array_member (record, "participants", g_steal_pointer (&participants));
  json_object_set_int_member (record, "unread", 0);
  json_object_set_boolean_member (record, "pinned", FALSE);
  json_object_set_boolean_member (record, "muted", FALSE);
  json_object_set_boolean_member (record, "archived", FALSE);
  add_change (ev, COMPANION_ENTITY_CHAT, record);
  return TRUE;
}

/* ---- CompanionPhoneEvents ------------------------------------------------------------ */

static void
companion_phone_events_finalize (GObject *object)
{
  CompanionPhoneEvents *self = COMPANION_PHONE_EVENTS (object);

  for (guint i = 0; i < N_QUERIES; i++)
    sqlite3_finalize (self->queries[i]);
  sqlite3_close (self->db);
  g_clear_object (&self->store);
  g_rand_free (self->rand);

  G_OBJECT_CLASS (companion_phone_events_parent_class)->finalize (object);
}

static void
companion_phone_events_class_init (CompanionPhoneEventsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = companion_phone_events_finalize;
}

static void
companion_phone_events_init (CompanionPhoneEvents *self)
{
  self->rand = g_rand_new_with_seed (1);
}

const char * const *
companion_phone_events_get_types (void)
{
  return event_types;
}

CompanionPhoneEvents *
companion_phone_events_new (CompanionPhoneStore *store,
                            GError             **error)
{
  g_autoptr(CompanionPhoneEvents) self = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (store), NULL);

  self = g_object_new (COMPANION_TYPE_PHONE_EVENTS, NULL);
  self->store = g_object_ref (store);
  path = g_build_filename (companion_phone_store_get_state_dir (store), COMPANION_PHONE_STORE_FILENAME, NULL);
  if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
    {
      g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_FAILED,
                   "Cannot open the phone database “%s”: %s", path,
                   self->db != NULL ? sqlite3_errmsg (self->db) : "out of memory");
      return NULL;
    }
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT);
  for (guint i = 0; i < N_QUERIES; i++)
    if (sqlite3_prepare_v3 (self->db, query_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                            &self->queries[i], NULL) != SQLITE_OK)
      {
        g_set_error (error, COMPANION_PHONE_STORE_ERROR, COMPANION_PHONE_STORE_ERROR_FAILED,
                     "Cannot read the phone database “%s”: %s", path, sqlite3_errmsg (self->db));
        return NULL;
      }
  return g_steal_pointer (&self);
}

CompanionPhoneStore *
companion_phone_events_get_store (CompanionPhoneEvents *self)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_EVENTS (self), NULL);
  return self->store;
}

void
companion_phone_events_set_clock (CompanionPhoneEvents *self,
                                  gint64                now)
{
  g_return_if_fail (COMPANION_IS_PHONE_EVENTS (self));
  self->clock_ms = now;
}

guint64
companion_phone_events_apply (CompanionPhoneEvents *self,
                              const char           *type,
                              JsonObject           *fields,
                              GError              **error)
{
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  g_autoptr(JsonObject) empty = NULL;
  Event ev = { self, type, fields, changes };
  gboolean ok;
  guint64 seq;

  g_return_val_if_fail (COMPANION_IS_PHONE_EVENTS (self), 0);
  g_return_val_if_fail (type != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  if (fields == NULL)
    ev.fields = empty = json_object_new ();

  if (g_str_equal (type, "message-in"))
    ok = build_message (&ev, FALSE, FALSE, error);
  else if (g_str_equal (type, "message-out"))
    ok = build_message (&ev, TRUE, FALSE, error);
  else if (g_str_equal (type, "media"))
    ok = build_message (&ev, FALSE, TRUE, error);
  else if (g_str_equal (type, "edit"))
    ok = build_edit (&ev, error);
  else if (g_str_equal (type, "delete"))
    ok = build_delete (&ev, error);
  else if (g_str_equal (type, "react"))
    ok = build_react (&ev, error);
  else if (g_str_equal (type, "read"))
    ok = build_read (&ev, error);
  else if (g_str_equal (type, "delivered") || g_str_equal (type, "status"))
    ok = build_status (&ev, g_str_equal (type, "delivered"), error);
  else if (g_str_equal (type, "call"))
    ok = build_call (&ev, error);
  else if (g_str_equal (type, "chat"))
    ok = build_chat (&ev, error);
  else if (g_str_equal (type, "chat-new"))
    ok = build_chat_new (&ev, error);
  else
    {
      g_autofree char *known = g_strjoinv (", ", (GStrv) event_types);
      g_set_error (error, COMPANION_PHONE_EVENTS_ERROR, COMPANION_PHONE_EVENTS_ERROR_UNKNOWN_TYPE,
                   "Unknown event “%s” (known: %s)", type, known);
      return 0;
    }
  if (!ok)
    return 0;

  seq = companion_phone_store_apply (self->store, changes, error);
  if (seq == 0)
    g_prefix_error (error, "%s: ", type);
  return seq;
}

/* ---- CompanionPhoneEventSource -------------------------------------------------------- */

#define TICK_MIN_MS  10
#define TICK_MAX_MS  1000
#define RECENT_RING  256
#define HOT_CHATS    6

static const char * const sentences[] = {
  "On my way", "Sounds good 👍", "Are you coming tonight?", "lol", "Thanks!", "Ok",
  "Running 5 min late, sorry", "Did you see this?", "Call me when you can.", "Happy birthday!! 🎉",
  "Ça marche, à demain !", "¿Dónde estás?", "Schöne Grüße!", "Привет! Как дела?", "Спасибо!",
  "Καλημέρα!", "مرحبا! كيف حالك؟", "שלום, מה שלומך?", "好的，明天见！", "駅に着いたら連絡してね",
  "내일 봐요!", "नमस्ते! आप कैसे हैं?", "Zażółć gęślą jaźń.", "Já cheguei.", "👀", "😂😂",
};
static const char * const reaction_emoji[] = { "👍", "❤️", "😂", "😮", "😢", "🙏", "🔥" };

typedef struct
{
  char  *id;
  GStrv  participants;
} SourceChat;

typedef struct
{
  char     *id;
  guint     chat;
  gboolean  outgoing;
} Recent;

struct _CompanionPhoneEventSource
{
  GObject               parent_instance;

  CompanionPhoneEvents *events;
  double                rate;
  GRand                *rand;
  gboolean              loaded;
  GArray               *chats;     /* SourceChat */
  GHashTable           *chat_index; /* id → index + 1 */
  Recent                recent[RECENT_RING];
  guint                 n_recent;  /* filled slots, at most RECENT_RING */
  guint                 next_recent;
  guint                 hot[HOT_CHATS];
  guint                 n_hot;

  guint                 timer_id;
  gint64                started_us;
  guint64               due_done;  /* events the timer has applied since started_us */
  guint64               count;
};

G_DEFINE_FINAL_TYPE (CompanionPhoneEventSource, companion_phone_event_source, G_TYPE_OBJECT)

enum {
  SIGNAL_APPLIED,
  N_SIGNALS
};

static guint source_signals[N_SIGNALS];

static guint
pick (CompanionPhoneEventSource *self,
      guint                      n)
{
  return rand_below (self->rand, n);
}

static void
source_chat_clear (SourceChat *chat)
{
  g_free (chat->id);
  g_strfreev (chat->participants);
}

static void
remember (CompanionPhoneEventSource *self,
          const char                *id,
          guint                      chat,
          gboolean                   outgoing)
{
  Recent *slot = &self->recent[self->next_recent];

  g_free (slot->id);
  slot->id = g_strdup (id);
  slot->chat = chat;
  slot->outgoing = outgoing;
  self->next_recent = (self->next_recent + 1) % RECENT_RING;
  self->n_recent = MIN (self->n_recent + 1, RECENT_RING);
}

static void
forget (CompanionPhoneEventSource *self,
        guint                      slot)
{
  /* The newest takes its place. */
  guint last = (self->next_recent + RECENT_RING - 1) % RECENT_RING;

  g_free (self->recent[slot].id);
  self->recent[slot] = self->recent[last];
  self->recent[last].id = NULL;
  self->next_recent = last;
  self->n_recent--;
}

static gboolean
source_load (CompanionPhoneEventSource *self,
             GError                   **error)
{
  CompanionPhoneStore *store = companion_phone_events_get_store (self->events);
  g_autoptr(GPtrArray) chats = NULL;
  g_autoptr(GPtrArray) messages = NULL;

  if (self->loaded)
    return TRUE;
  chats = companion_phone_store_list_chats (store, NULL, error);
  if (chats == NULL)
    return FALSE;
  if (chats->len == 0)
    {
      g_set_error_literal (error, COMPANION_PHONE_EVENTS_ERROR, COMPANION_PHONE_EVENTS_ERROR_NOT_FOUND,
                           "Live events need chats: fill the phone with --generate or --fixture first");
      return FALSE;
    }
  for (guint i = 0; i < chats->len; i++)
    {
      JsonObject *record = g_ptr_array_index (chats, i);
      JsonArray *participants = json_object_get_array_member (record, "participants");
      SourceChat chat = { g_strdup (json_object_get_string_member (record, "id")),
                          g_new0 (char *, json_array_get_length (participants) + 1) };

      for (guint p = 0; p < json_array_get_length (participants); p++)
        chat.participants[p] = g_strdup (json_array_get_string_element (participants, p));
      g_array_append_val (self->chats, chat);
      g_hash_table_insert (self->chat_index, chat.id, GUINT_TO_POINTER (i + 1));
    }
  /* A few busy chats get most of the traffic. */
  self->n_hot = MIN (HOT_CHATS, chats->len);
  for (guint i = 0; i < self->n_hot; i++)
    self->hot[i] = pick (self, chats->len);

  messages = companion_phone_store_list_messages_before (store, G_MAXINT64, NULL, RECENT_RING, error);
  if (messages == NULL)
    return FALSE;
  for (guint i = messages->len; i-- > 0;)
    {
      JsonObject *message = g_ptr_array_index (messages, i);
      guint index = GPOINTER_TO_UINT (g_hash_table_lookup (self->chat_index,
                                                           json_object_get_string_member (message, "chat")));

      if (index > 0 && !is_deleted (message))
        remember (self, json_object_get_string_member (message, "id"), index - 1,
                  !json_object_has_member (message, "from"));
    }
  self->loaded = TRUE;
  return TRUE;
}

static guint
pick_chat (CompanionPhoneEventSource *self)
{
  if (pick (self, 100) < 70)
    return self->hot[pick (self, self->n_hot)];
  return pick (self, self->chats->len);
}

static char *
make_text (CompanionPhoneEventSource *self)
{
  GString *text = g_string_new (sentences[pick (self, G_N_ELEMENTS (sentences))]);
  guint more = pick (self, 10) < 2 ? 1 + pick (self, 3) : 0;

  for (guint i = 0; i < more; i++)
    {
      g_string_append_c (text, ' ');
      g_string_append (text, sentences[pick (self, G_N_ELEMENTS (sentences))]);
    }
  return g_string_free (text, FALSE);
}

/* A message of the recent ring, outgoing only when asked; -1 when none. */
static gint
pick_recent (CompanionPhoneEventSource *self,
             gboolean                   outgoing_only)
{
  if (self->n_recent == 0)
    return -1;
  for (guint tries = 0; tries < 8; tries++)
    {
      /* Newer messages are likelier. */
      guint back = MIN (pick (self, self->n_recent), pick (self, self->n_recent));
      guint slot = (self->next_recent + RECENT_RING - 1 - back) % RECENT_RING;

      if (!outgoing_only || self->recent[slot].outgoing)
        return (gint) slot;
    }
  return -1;
}

/* Fills EVENT with one random event; returns its type. SLOT_OUT: the recent
 * message it is about, or -1. */
static const char *
draw_event (CompanionPhoneEventSource *self,
            JsonObject                *event,
            gint                      *slot_out,
            guint                     *chat_out)
{
  static const char * const kinds[] = { "voice", "video" };
  static const char * const media_kinds[] = { "image", "image", "voice", "document" };
  guint roll = pick (self, 1000);
  guint chat = pick_chat (self);
  SourceChat *c = &g_array_index (self->chats, SourceChat, chat);
  gint slot = -1;

  *slot_out = -1;
  *chat_out = chat;
  if (roll >= 650 && roll < 890)
    {
      slot = pick_recent (self, roll >= 830 && roll < 870);
      if (slot < 0)
        roll = 0;
    }

  if (roll < 650)
    {
      gboolean outgoing = roll >= 420;
      g_autofree char *text = make_text (self);
      gint reply = pick (self, 100) < 8 ? pick_recent (self, FALSE) : -1;

      json_object_set_string_member (event, "chat", c->id);
      if (!outgoing)
        json_object_set_string_member (event, "from",
                                       c->participants[pick (self, g_strv_length (c->participants))]);
      json_object_set_string_member (event, "text", text);
      if (reply >= 0 && self->recent[reply].chat == chat)
        json_object_set_string_member (event, "reply_to", self->recent[reply].id);
      return outgoing ? "message-out" : "message-in";
    }

  *slot_out = slot;
  if (slot >= 0)
    {
      Recent *recent = &self->recent[slot];
      SourceChat *of = &g_array_index (self->chats, SourceChat, recent->chat);

      *chat_out = recent->chat;
      json_object_set_string_member (event, "message", recent->id);
      if (roll < 730)
        {
          json_object_set_string_member (event, "from",
                                         pick (self, 3) == 0 ? "me"
                                                             : of->participants[pick (self, g_strv_length (of->participants))]);
          if (pick (self, 10) == 0)
            json_object_set_null_member (event, "emoji");
          else
            json_object_set_string_member (event, "emoji", reaction_emoji[pick (self, G_N_ELEMENTS (reaction_emoji))]);
          return "react";
        }
      if (roll < 770)
        {
          g_autofree char *text = make_text (self);
          json_object_set_string_member (event, "text", text);
          return "edit";
        }
      if (roll < 830)
        {
          json_object_remove_member (event, "message");
          json_object_set_string_member (event, "chat", of->id);
          *slot_out = -1;
          return "read";
        }
      if (roll < 870)
        {
          json_object_set_string_member (event, "status", pick (self, 2) == 0 ? "delivered" : "read");
          return "status";
        }
      return "delete";
    }

  *slot_out = -1;
  if (roll < 930)
    {
      gboolean incoming = pick (self, 10) < 6;
      gboolean missed = incoming && pick (self, 10) < 3;

      json_object_set_string_member (event, "from", c->participants[pick (self, g_strv_length (c->participants))]);
      json_object_set_string_member (event, "kind", kinds[pick (self, 4) == 0]);
      json_object_set_string_member (event, "direction", incoming ? "incoming" : "outgoing");
      json_object_set_boolean_member (event, "missed", missed);
      json_object_set_int_member (event, "duration_s", missed ? 0 : pick (self, 1200));
      return "call";
    }
  json_object_set_string_member (event, "chat", c->id);
  if (roll < 945)
    {
      json_object_set_string_member (event, "kind", media_kinds[pick (self, G_N_ELEMENTS (media_kinds))]);
      json_object_set_string_member (event, "from",
                                     pick (self, 3) == 0 ? "me"
                                                         : c->participants[pick (self, g_strv_length (c->participants))]);
      return "media";
    }
  switch (pick (self, 3))
    {
    case 0:
      json_object_set_boolean_member (event, "muted", pick (self, 2));
      break;
    case 1:
      json_object_set_boolean_member (event, "pinned", pick (self, 2));
      break;
    default:
      json_object_set_boolean_member (event, "archived", pick (self, 4) == 0);
      break;
    }
  return "chat";
}

/* One random event; a ring message that has gone (deleted meanwhile) gives
 * way to a plain incoming message, so every call applies one event. */
static guint64
source_one (CompanionPhoneEventSource *self,
            GError                   **error)
{
  CompanionPhoneStore *store = companion_phone_events_get_store (self->events);
  g_autoptr(JsonObject) event = json_object_new ();
  g_autoptr(GError) local_error = NULL;
  const char *type;
  guint64 before = companion_phone_store_get_last_seq (store);
  guint64 seq;
  guint chat;
  gint slot;

  type = draw_event (self, event, &slot, &chat);
  seq = companion_phone_events_apply (self->events, type, event, &local_error);
  if (seq == 0 && slot >= 0)
    {
      SourceChat *c = &g_array_index (self->chats, SourceChat, chat);
      g_autofree char *text = make_text (self);

      g_debug ("Random %s skipped: %s", type, local_error->message);
      g_clear_error (&local_error);
      forget (self, (guint) slot);
      slot = -1;
      g_clear_pointer (&event, json_object_unref);
      event = json_object_new ();
      type = "message-in";
      json_object_set_string_member (event, "chat", c->id);
      json_object_set_string_member (event, "from", c->participants[pick (self, g_strv_length (c->participants))]);
      json_object_set_string_member (event, "text", text);
      seq = companion_phone_events_apply (self->events, type, event, &local_error);
    }
  if (seq == 0)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return 0;
    }
  self->count++;

  if (g_str_equal (type, "message-in") || g_str_equal (type, "message-out") || g_str_equal (type, "media"))
    {
      /* The message is the event's message change: find its id in the log. */
      g_autoptr(GPtrArray) changes = companion_phone_store_get_changes_after (store, before, 4, NULL);

      for (guint i = 0; changes != NULL && i < changes->len; i++)
        {
          CompanionChange *change = g_ptr_array_index (changes, i);

          if (change->entity == COMPANION_ENTITY_MESSAGE && !change->is_delete)
            {
              remember (self, change->id, chat, !json_object_has_member (change->record, "from"));
              break;
            }
        }
    }
  else if (g_str_equal (type, "delete") && slot >= 0)
    forget (self, (guint) slot);
  return seq;
}

static guint
tick_interval_ms (double rate)
{
  return (guint) CLAMP (1000.0 / rate, TICK_MIN_MS, TICK_MAX_MS);
}

static gboolean
on_tick (gpointer user_data)
{
  CompanionPhoneEventSource *self = user_data;
  g_autoptr(GError) error = NULL;
  gint64 now = g_get_monotonic_time ();
  guint64 due = (guint64) ((double) (now - self->started_us) * self->rate / G_USEC_PER_SEC);
  guint64 n = due > self->due_done ? due - self->due_done : 0;
  guint64 max = (guint64) MAX (1.0, self->rate);  /* at most a second's worth per tick */
  guint64 seq = 0;
  guint done = 0;

  if (n > max)
    {
      /* Behind (a stalled loop): drop the backlog rather than chase it. */
      self->due_done += n - max;
      n = max;
    }
  for (guint64 i = 0; i < n; i++)
    {
      seq = source_one (self, &error);
      self->due_done++;
      if (seq == 0)
        {
          g_warning ("Live event failed: %s", error->message);
          g_clear_error (&error);
          continue;
        }
      done++;
    }
  if (done > 0)
    g_signal_emit (self, source_signals[SIGNAL_APPLIED], 0, seq, done);
  return G_SOURCE_CONTINUE;
}

static void
companion_phone_event_source_dispose (GObject *object)
{
  CompanionPhoneEventSource *self = COMPANION_PHONE_EVENT_SOURCE (object);

  g_clear_handle_id (&self->timer_id, g_source_remove);
  g_clear_object (&self->events);

  G_OBJECT_CLASS (companion_phone_event_source_parent_class)->dispose (object);
}

static void
companion_phone_event_source_finalize (GObject *object)
{
  CompanionPhoneEventSource *self = COMPANION_PHONE_EVENT_SOURCE (object);

  for (guint i = 0; i < RECENT_RING; i++)
    g_free (self->recent[i].id);
  g_hash_table_unref (self->chat_index);
  g_array_unref (self->chats);
  g_rand_free (self->rand);

  G_OBJECT_CLASS (companion_phone_event_source_parent_class)->finalize (object);
}

static void
companion_phone_event_source_class_init (CompanionPhoneEventSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_phone_event_source_dispose;
  object_class->finalize = companion_phone_event_source_finalize;

  source_signals[SIGNAL_APPLIED] = g_signal_new ("applied", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                                 G_TYPE_UINT64, G_TYPE_UINT);
}

static void
companion_phone_event_source_init (CompanionPhoneEventSource *self)
{
  self->chats = g_array_new (FALSE, TRUE, sizeof (SourceChat));
  g_array_set_clear_func (self->chats, (GDestroyNotify) source_chat_clear);
  self->chat_index = g_hash_table_new (g_str_hash, g_str_equal);
}

CompanionPhoneEventSource *
companion_phone_event_source_new (CompanionPhoneEvents *events,
                                  double                rate,
                                  guint32               seed)
{
  CompanionPhoneEventSource *self;

  g_return_val_if_fail (COMPANION_IS_PHONE_EVENTS (events), NULL);

  self = g_object_new (COMPANION_TYPE_PHONE_EVENT_SOURCE, NULL);
  self->events = g_object_ref (events);
  self->rate = rate;
  self->rand = g_rand_new_with_seed (seed);
  return self;
}

gboolean
companion_phone_event_source_start (CompanionPhoneEventSource *self,
                                    GError                   **error)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_EVENT_SOURCE (self), FALSE);

  if (!(self->rate > 0 && self->rate <= COMPANION_PHONE_EVENT_SOURCE_MAX_RATE))
    {
      g_set_error (error, COMPANION_PHONE_EVENTS_ERROR, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD,
                   "The event rate must be more than 0 and at most %g a second, not %g",
                   COMPANION_PHONE_EVENT_SOURCE_MAX_RATE, self->rate);
      return FALSE;
    }
  if (!source_load (self, error))
    return FALSE;
  if (self->timer_id == 0)
    {
      self->started_us = g_get_monotonic_time ();
      self->due_done = 0;
      self->timer_id = g_timeout_add (tick_interval_ms (self->rate), on_tick, self);
    }
  return TRUE;
}

void
companion_phone_event_source_stop (CompanionPhoneEventSource *self)
{
  g_return_if_fail (COMPANION_IS_PHONE_EVENT_SOURCE (self));
  g_clear_handle_id (&self->timer_id, g_source_remove);
}

guint64
companion_phone_event_source_step (CompanionPhoneEventSource *self,
                                   guint                      n,
                                   GError                   **error)
{
  guint64 seq = companion_phone_store_get_last_seq (companion_phone_events_get_store (self->events));

  g_return_val_if_fail (COMPANION_IS_PHONE_EVENT_SOURCE (self), 0);

  if (!source_load (self, error))
    return 0;
  for (guint i = 0; i < n; i++)
    if ((seq = source_one (self, error)) == 0)
      return 0;
  return seq;
}

guint64
companion_phone_event_source_get_count (CompanionPhoneEventSource *self)
{
  g_return_val_if_fail (COMPANION_IS_PHONE_EVENT_SOURCE (self), 0);
  return self->count;
}
