/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "companion-generator.h"
#include "companion-phone-events.h"
#include "companion-phone-store.h"
#include "test-util.h"

#define CLOCK G_GINT64_CONSTANT (1800000000000)

/* Helpers */

static void
add_upsert (GPtrArray      *changes,
            CompanionEntity entity,
            const char     *json)
{
  g_autoptr(JsonObject) record = test_util_json_object (json);

  g_ptr_array_add (changes, companion_change_new_upsert (0, entity, record));
}

static char *
export_string (CompanionPhoneStore *store)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionExport) export = companion_phone_store_export (store, &error);

  g_assert_no_error (error);
  return companion_export_to_string (export, NULL);
}

typedef struct
{
  char                 *dir;
  CompanionPhoneStore  *store;
  CompanionPhoneEvents *events;
} Fixture;

/* Three contacts, a direct chat ch-1 (c-1) with m-1 (in, 1000) and m-2
 * (out, delivered, 2000), and a group ch-2 (c-1, c-2). */
static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);

  f->dir = g_dir_make_tmp ("phone-events-XXXXXX", &error);
  g_assert_no_error (error);
  f->store = companion_phone_store_open (f->dir, &error);
  g_assert_no_error (error);
  add_upsert (changes, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-1\",\"name\":\"Zoë\"}");
  add_upsert (changes, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-2\",\"name\":\"דוד\"}");
  add_upsert (changes, COMPANION_ENTITY_CONTACT, "{\"id\":\"c-3\",\"name\":\"Ivan\"}");
  add_upsert (changes, COMPANION_ENTITY_CHAT,
              "{\"id\":\"ch-1\",\"kind\":\"direct\",\"title\":\"\",\"participants\":[\"c-1\"],"
              "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}");
  add_upsert (changes, COMPANION_ENTITY_CHAT,
              "{\"id\":\"ch-2\",\"kind\":\"group\",\"title\":\"Team\",\"participants\":[\"c-1\",\"c-2\"],"
              "\"unread\":3,\"pinned\":false,\"muted\":false,\"archived\":false}");
  add_upsert (changes, COMPANION_ENTITY_MESSAGE,
              "{\"id\":\"m-1\",\"chat\":\"ch-1\",\"from\":\"c-1\",\"time\":1000,\"text\":\"hi\",\"deleted\":false}");
  add_upsert (changes, COMPANION_ENTITY_MESSAGE,
              "{\"id\":\"m-2\",\"chat\":\"ch-1\",\"time\":2000,\"text\":\"hello\",\"status\":\"delivered\","
              "\"deleted\":false}");
  g_assert_cmpuint (companion_phone_store_apply (f->store, changes, &error), ==, 7);
  g_assert_no_error (error);
  f->events = companion_phone_events_new (f->store, &error);
  g_assert_no_error (error);
  companion_phone_events_set_clock (f->events, CLOCK);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  g_clear_object (&f->events);
  g_clear_object (&f->store);
  test_util_remove_tree (f->dir);
  g_free (f->dir);
}

/* Applies TYPE with FIELDS (JSON); asserts success and returns the seq. */
static guint64
apply_ok (Fixture    *f,
          const char *type,
          const char *fields)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) object = test_util_json_object (fields);
  guint64 seq = companion_phone_events_apply (f->events, type, object, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (seq, >, 0);
  g_assert_cmpuint (seq, ==, companion_phone_store_get_last_seq (f->store));
  return seq;
}

/* The record of ENTITY with ID in the export, as canonical JSON. */
static char *
record_json (Fixture    *f,
             const char *array,
             const char *id)
{
  g_autofree char *text = export_string (f->store);
  g_autoptr(JsonObject) export = test_util_json_object (text);
  JsonArray *records = json_object_get_array_member (export, array);

  for (guint i = 0; i < json_array_get_length (records); i++)
    {
      JsonNode *node = json_array_get_element (records, i);
      JsonObject *record = json_node_get_object (node);
      const char *key = json_object_has_member (record, "hash") ? "hash" : "id";

      if (g_str_equal (json_object_get_string_member (record, key), id))
        return companion_canonical_json (node, NULL);
    }
  return NULL;
}

static JsonObject *
record (Fixture    *f,
        const char *array,
        const char *id)
{
  g_autofree char *json = record_json (f, array, id);

  g_assert_nonnull (json);
  return test_util_json_object (json);
}

/* Tests */

static void
test_message_in (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) chat = NULL;
  guint64 seq;

  seq = apply_ok (f, "message-in", "{\"chat\":\"ch-2\",\"from\":\"c-2\",\"text\":\"שלום\",\"id\":\"in-1\"}");
  g_assert_cmpuint (seq, ==, 9); /* the message and the chat's unread count */
  message = record (f, "messages", "in-1");
  g_assert_cmpstr (json_object_get_string_member (message, "from"), ==, "c-2");
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, "שלום");
  g_assert_cmpint (json_object_get_int_member (message, "time"), ==, CLOCK);
  g_assert_false (json_object_has_member (message, "status"));
  chat = record (f, "chats", "ch-2");
  g_assert_cmpint (json_object_get_int_member (chat, "unread"), ==, 4);

  /* No "from": a participant; no id: a new one. */
  apply_ok (f, "message-in", "{\"chat\":\"ch-1\",\"text\":\"again\",\"reply_to\":\"m-2\"}");
  g_clear_pointer (&message, json_object_unref);
  message = record (f, "messages", "m-live-10");
  g_assert_cmpstr (json_object_get_string_member (message, "from"), ==, "c-1");
  g_assert_cmpstr (json_object_get_string_member (message, "reply_to"), ==, "m-2");
}

static void
test_message_out_idempotent (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) other = test_util_json_object ("{\"chat\":\"ch-1\",\"text\":\"different\",\"id\":\"out-1\"}");
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  guint64 seq;

  seq = apply_ok (f, "message-out", "{\"type\":\"message-out\",\"chat\":\"ch-1\",\"text\":\"sent\",\"id\":\"out-1\"}");
  g_assert_cmpuint (seq, ==, 8);
  message = record (f, "messages", "out-1");
  g_assert_cmpstr (json_object_get_string_member (message, "status"), ==, "sent");
  g_assert_false (json_object_has_member (message, "from"));

  /* The same again: nothing new. */
  before = export_string (f->store);
  g_assert_cmpuint (apply_ok (f, "message-out", "{\"chat\":\"ch-1\",\"text\":\"sent\",\"id\":\"out-1\"}"), ==, 8);
  after = export_string (f->store);
  g_assert_cmpstr (before, ==, after);

  /* The same id with other content: refused. */
  g_assert_cmpuint (companion_phone_events_apply (f->events, "message-out", other, &error), ==, 0);
  g_assert_error (error, COMPANION_PHONE_EVENTS_ERROR, COMPANION_PHONE_EVENTS_ERROR_CONFLICT);
  g_assert_nonnull (strstr (error->message, "“id”"));

  /* Still the same after a delete: a retried send stays a no-op. */
  apply_ok (f, "delete", "{\"message\":\"out-1\"}");
  g_assert_cmpuint (apply_ok (f, "message-out", "{\"chat\":\"ch-1\",\"text\":\"sent\",\"id\":\"out-1\"}"), ==, 9);
}

static void
test_edit_delete_react (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(JsonObject) message = NULL;

  apply_ok (f, "edit", "{\"message\":\"m-1\",\"text\":\"hi there\"}");
  message = record (f, "messages", "m-1");
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, "hi there");
  g_assert_cmpint (json_object_get_int_member (message, "edited_at"), ==, CLOCK);
  g_clear_pointer (&message, json_object_unref);

  apply_ok (f, "react", "{\"message\":\"m-1\",\"emoji\":\"👍\"}");
  apply_ok (f, "react", "{\"message\":\"m-1\",\"from\":\"c-1\",\"emoji\":\"❤️\"}");
  message = record (f, "messages", "m-1");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "reactions"), "me"),
                   ==, "👍");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (message, "reactions"), "c-1"),
                   ==, "❤️");
  g_clear_pointer (&message, json_object_unref);

  apply_ok (f, "react", "{\"message\":\"m-1\",\"emoji\":null}");
  apply_ok (f, "react", "{\"message\":\"m-1\",\"from\":\"c-1\"}");
  message = record (f, "messages", "m-1");
  g_assert_false (json_object_has_member (message, "reactions"));
  g_clear_pointer (&message, json_object_unref);

  apply_ok (f, "delete", "{\"message\":\"m-1\"}");
  message = record (f, "messages", "m-1");
  g_assert_true (json_object_get_boolean_member (message, "deleted"));
  g_assert_cmpstr (json_object_get_string_member (message, "text"), ==, "");
  g_assert_cmpint (json_object_get_int_member (message, "time"), ==, 1000);
  /* Deleting again changes nothing. */
  g_assert_cmpuint (apply_ok (f, "delete", "{\"message\":\"m-1\"}"),
                    ==, companion_phone_store_get_last_seq (f->store));
}

static void
test_read_and_status (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) chat = NULL;
  guint64 seq;

  apply_ok (f, "message-in", "{\"chat\":\"ch-1\",\"text\":\"news\"}");
  apply_ok (f, "message-out", "{\"chat\":\"ch-1\",\"text\":\"mine\",\"id\":\"out-2\"}");
  apply_ok (f, "delivered", "{\"message\":\"out-2\"}");
  message = record (f, "messages", "out-2");
  g_assert_cmpstr (json_object_get_string_member (message, "status"), ==, "delivered");
  g_clear_pointer (&message, json_object_unref);

  seq = companion_phone_store_get_last_seq (f->store);
  g_assert_cmpuint (apply_ok (f, "read", "{\"chat\":\"ch-1\"}"), ==, seq + 3); /* chat, m-2, out-2 */
  chat = record (f, "chats", "ch-1");
  g_assert_cmpint (json_object_get_int_member (chat, "unread"), ==, 0);
  message = record (f, "messages", "m-2");
  g_assert_cmpstr (json_object_get_string_member (message, "status"), ==, "read");
  g_clear_pointer (&message, json_object_unref);
  message = record (f, "messages", "out-2");
  g_assert_cmpstr (json_object_get_string_member (message, "status"), ==, "read");
  g_clear_pointer (&message, json_object_unref);
  /* Read again: nothing. */
  g_assert_cmpuint (apply_ok (f, "read", "{\"chat\":\"ch-1\"}"), ==, seq + 3);

  apply_ok (f, "status", "{\"message\":\"out-2\",\"status\":\"pending\"}");
  message = record (f, "messages", "out-2");
  g_assert_cmpstr (json_object_get_string_member (message, "status"), ==, "pending");
}

static void
test_call_chat_media (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(JsonObject) call = NULL;
  g_autoptr(JsonObject) chat = NULL;
  g_autoptr(JsonObject) message = NULL;
  g_autoptr(JsonObject) media = NULL;
  g_autofree char *path = NULL;
  const char *kinds[] = { "image", "voice", "document" };

  apply_ok (f, "call", "{\"id\":\"call-1\",\"from\":\"c-3\",\"missed\":true}");
  call = record (f, "calls", "call-1");
  g_assert_cmpstr (json_object_get_string_member (call, "direction"), ==, "incoming");
  g_assert_true (json_object_get_boolean_member (call, "missed"));
  g_assert_cmpint (json_object_get_int_member (call, "time"), ==, CLOCK);
  g_clear_pointer (&call, json_object_unref);
  apply_ok (f, "call", "{\"id\":\"call-2\",\"participants\":[\"c-2\",\"c-1\"],\"kind\":\"video\","
                       "\"direction\":\"outgoing\",\"duration_s\":65}");
  call = record (f, "calls", "call-2");
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (call, "participants"), 0), ==, "c-1");
  g_assert_cmpint (json_object_get_int_member (call, "duration_s"), ==, 65);

  apply_ok (f, "chat", "{\"chat\":\"ch-2\",\"title\":\"Équipe\",\"muted\":true,\"pinned\":true}");
  chat = record (f, "chats", "ch-2");
  g_assert_cmpstr (json_object_get_string_member (chat, "title"), ==, "Équipe");
  g_assert_true (json_object_get_boolean_member (chat, "muted"));
  g_assert_true (json_object_get_boolean_member (chat, "pinned"));
  g_assert_false (json_object_get_boolean_member (chat, "archived"));
  g_clear_pointer (&chat, json_object_unref);

  apply_ok (f, "chat-new", "{\"id\":\"ch-9\",\"kind\":\"group\",\"title\":\"New\",\"participants\":[\"c-3\",\"c-1\"]}");
  chat = record (f, "chats", "ch-9");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (chat, "participants")), ==, 2);
  g_assert_cmpint (json_object_get_int_member (chat, "unread"), ==, 0);

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autofree char *fields = g_strdup_printf ("{\"chat\":\"ch-9\",\"kind\":\"%s\",\"id\":\"md-%u\"}", kinds[i], i);
      g_autofree char *id = g_strdup_printf ("md-%u", i);
      g_autofree char *contents = NULL;
      gsize length = 0;

      apply_ok (f, "media", fields);
      g_clear_pointer (&message, json_object_unref);
      g_clear_pointer (&media, json_object_unref);
      message = record (f, "messages", id);
      media = record (f, "media", json_object_get_string_member (message, "media"));
      g_assert_cmpstr (json_object_get_string_member (media, "kind"), ==, kinds[i]);
      g_free (path);
      path = companion_phone_store_get_media_path (f->store, json_object_get_string_member (media, "hash"));
      g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
      g_assert_cmpint ((gint64) length, ==, json_object_get_int_member (media, "size"));
    }
  g_assert_cmpint (companion_phone_store_count (f->store, COMPANION_ENTITY_MEDIA, NULL), ==, 3);
}

typedef struct
{
  const char *type;
  const char *fields;
  const char *field;   /* named in the message */
} BadEvent;

static void
test_bad_events (Fixture       *f,
                 gconstpointer  data)
{
  static const BadEvent bad[] = {
    { "message-in", "{\"text\":\"x\"}", "“chat”" },
    { "message-in", "{\"chat\":\"ch-404\",\"text\":\"x\"}", "“chat”" },
    { "message-in", "{\"chat\":\"ch-1\",\"text\":\"x\",\"from\":\"c-2\"}", "“from”" },
    { "message-in", "{\"chat\":\"ch-1\"}", "“text”" },
    { "message-in", "{\"chat\":\"ch-1\",\"text\":7}", "“text”" },
    { "message-in", "{\"chat\":\"ch-1\",\"text\":\"x\",\"colour\":\"red\"}", "“colour”" },
    { "message-in", "{\"chat\":\"ch-1\",\"text\":\"x\",\"reply_to\":\"m-404\"}", "“reply_to”" },
    { "message-out", "{\"chat\":\"ch-2\",\"text\":\"x\",\"reply_to\":\"m-1\"}", "“reply_to”" },
    { "message-out", "{\"chat\":\"ch-1\",\"text\":\"x\",\"id\":\"bad id!\"}", "“id”" },
    { "message-out", "{\"chat\":\"ch-1\",\"text\":\"x\",\"media\":\"00\"}", "“media”" },
    { "message-out", "{\"chat\":\"ch-1\",\"text\":\"x\",\"id\":\"m-1\"}", "“id”" },
    { "edit", "{\"message\":\"m-404\",\"text\":\"x\"}", "“message”" },
    { "edit", "{\"message\":\"m-1\"}", "“text”" },
    { "edit", "{\"message\":\"m-1\",\"text\":\"\"}", "“text”" },
    { "delete", "{}", "“message”" },
    { "react", "{\"message\":\"m-1\",\"from\":\"c-3\",\"emoji\":\"👍\"}", "“from”" },
    { "react", "{\"message\":\"m-1\",\"emoji\":\"\"}", "“emoji”" },
    { "read", "{\"chat\":\"ch-404\"}", "“chat”" },
    { "delivered", "{\"message\":\"m-1\"}", "“message”" },
    { "status", "{\"message\":\"m-2\",\"status\":\"lost\"}", "“status”" },
    { "status", "{\"message\":\"m-2\"}", "“status”" },
    { "call", "{\"kind\":\"voice\"}", "“participants”" },
    { "call", "{\"from\":\"c-404\"}", "“from”" },
    { "call", "{\"from\":\"c-1\",\"kind\":\"fax\"}", "“kind”" },
    { "call", "{\"from\":\"c-1\",\"direction\":\"outgoing\",\"missed\":true}", "“missed”" },
    { "call", "{\"from\":\"c-1\",\"missed\":true,\"duration_s\":5}", "“duration_s”" },
    { "call", "{\"from\":\"c-1\",\"duration_s\":1.5}", "“duration_s”" },
    { "call", "{\"participants\":[\"c-1\",\"c-1\"]}", "“participants”" },
    { "chat", "{\"chat\":\"ch-1\",\"muted\":\"yes\"}", "“muted”" },
    { "chat", "{\"chat\":\"ch-1\",\"unread\":-1}", "“unread”" },
    { "media", "{\"chat\":\"ch-1\",\"kind\":\"video\"}", "“kind”" },
    { "media", "{\"chat\":\"ch-1\"}", "“kind”" },
    { "chat-new", "{\"kind\":\"direct\",\"participants\":[\"c-1\",\"c-2\"]}", "“participants”" },
    { "chat-new", "{\"kind\":\"group\",\"participants\":[\"c-404\"]}", "“participants”" },
    { "chat-new", "{\"id\":\"ch-1\",\"kind\":\"group\",\"participants\":[\"c-1\"]}", "“id”" },
    { "chat-new", "{\"kind\":\"channel\",\"participants\":[\"c-1\"]}", "“kind”" },
  };
  g_autofree char *before = export_string (f->store);
  guint64 seq = companion_phone_store_get_last_seq (f->store);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonObject) fields = test_util_json_object (bad[i].fields);
      g_autofree char *after = NULL;

      g_test_message ("%s %s", bad[i].type, bad[i].fields);
      g_assert_cmpuint (companion_phone_events_apply (f->events, bad[i].type, fields, &error), ==, 0);
      g_assert_error (error, COMPANION_PHONE_EVENTS_ERROR, error->code);
      g_assert_nonnull (strstr (error->message, bad[i].type));
      if (strstr (error->message, bad[i].field) == NULL)
        g_error ("“%s” does not name %s", error->message, bad[i].field);
      after = export_string (f->store);
      g_assert_cmpstr (before, ==, after);
      g_assert_cmpuint (companion_phone_store_get_last_seq (f->store), ==, seq);
    }

  {
    g_autoptr(GError) error = NULL;
    g_assert_cmpuint (companion_phone_events_apply (f->events, "dance", NULL, &error), ==, 0);
    g_assert_error (error, COMPANION_PHONE_EVENTS_ERROR, COMPANION_PHONE_EVENTS_ERROR_UNKNOWN_TYPE);
  }
}

static void
test_time_order (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(JsonObject) first = NULL;
  g_autoptr(JsonObject) second = NULL;
  g_autoptr(JsonObject) third = NULL;

  /* A clock behind the chat's newest message (2000): times go on from it. */
  companion_phone_events_set_clock (f->events, 500);
  apply_ok (f, "message-in", "{\"chat\":\"ch-1\",\"text\":\"a\",\"id\":\"t-1\"}");
  apply_ok (f, "message-out", "{\"chat\":\"ch-1\",\"text\":\"b\",\"id\":\"t-2\"}");
  apply_ok (f, "media", "{\"chat\":\"ch-1\",\"kind\":\"document\",\"id\":\"t-3\"}");
  first = record (f, "messages", "t-1");
  second = record (f, "messages", "t-2");
  third = record (f, "messages", "t-3");
  g_assert_cmpint (json_object_get_int_member (first, "time"), ==, 2001);
  g_assert_cmpint (json_object_get_int_member (second, "time"), ==, 2002);
  g_assert_cmpint (json_object_get_int_member (third, "time"), ==, 2003);

  /* The real clock: now, and after everything before. */
  companion_phone_events_set_clock (f->events, 0);
  {
    gint64 before = g_get_real_time () / 1000;
    g_autoptr(JsonObject) now = NULL;

    apply_ok (f, "message-in", "{\"chat\":\"ch-1\",\"text\":\"c\",\"id\":\"t-4\"}");
    now = record (f, "messages", "t-4");
    g_assert_cmpint (json_object_get_int_member (now, "time"), >=, before);
    g_assert_cmpint (json_object_get_int_member (now, "time"), <=, g_get_real_time () / 1000);
  }
}

/* The generated phone the source draws from. */
static CompanionPhoneStore *
generated_store (char **dir_out)
{
  g_autoptr(GError) error = NULL;
  CompanionGeneratorSpec spec;
  CompanionPhoneStore *store;

  *dir_out = g_dir_make_tmp ("phone-events-XXXXXX", &error);
  g_assert_no_error (error);
  store = companion_phone_store_open (*dir_out, &error);
  g_assert_no_error (error);
  g_assert_true (companion_generator_parse_spec ("chats=8,messages=200,media=2,calls=3,seed=5", &spec, &error));
  g_assert_true (companion_generator_run (store, &spec, NULL, &error));
  g_assert_no_error (error);
  return store;
}

static char *
source_run (guint32 seed,
            guint   n)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(CompanionPhoneStore) store = generated_store (&dir);
  g_autoptr(CompanionPhoneEvents) events = companion_phone_events_new (store, &error);
  g_autoptr(CompanionPhoneEventSource) source = NULL;
  char *text;

  g_assert_no_error (error);
  companion_phone_events_set_clock (events, CLOCK);
  source = companion_phone_event_source_new (events, 100, seed);
  g_assert_cmpuint (companion_phone_event_source_step (source, n, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpuint (companion_phone_event_source_get_count (source), ==, n);
  text = export_string (store);
  g_clear_object (&source);
  g_clear_object (&events);
  g_clear_object (&store);
  test_util_remove_tree (dir);
  return text;
}

static void
test_source_deterministic (void)
{
  g_autofree char *a = source_run (7, 400);
  g_autofree char *b = source_run (7, 400);
  g_autofree char *c = source_run (8, 400);

  g_assert_cmpstr (a, ==, b);
  g_assert_cmpstr (a, !=, c);
}

typedef struct
{
  guint64 applied;
  guint   ticks;
} Applied;

static void
on_applied (CompanionPhoneEventSource *source,
            guint64                    last_seq,
            guint                      n,
            Applied                   *applied)
{
  applied->applied += n;
  applied->ticks++;
}

static gboolean
on_done (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
test_source_rate (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autoptr(CompanionPhoneStore) store = generated_store (&dir);
  g_autoptr(CompanionPhoneEvents) events = companion_phone_events_new (store, &error);
  g_autoptr(CompanionPhoneEventSource) source = NULL;
  g_autoptr(CompanionPhoneEventSource) bad = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Applied applied = { 0 };
  const double rate = 400;
  guint64 first_seq = companion_phone_store_get_last_seq (store);
  gint64 started, elapsed;
  guint64 count;

  g_assert_no_error (error);
  bad = companion_phone_event_source_new (events, 0, 1);
  g_assert_false (companion_phone_event_source_start (bad, &error));
  g_assert_error (error, COMPANION_PHONE_EVENTS_ERROR, COMPANION_PHONE_EVENTS_ERROR_INVALID_FIELD);
  g_clear_error (&error);
  g_clear_object (&bad);
  bad = companion_phone_event_source_new (events, 5001, 1);
  g_assert_false (companion_phone_event_source_start (bad, &error));
  g_clear_error (&error);

  source = companion_phone_event_source_new (events, rate, 3);
  g_signal_connect (source, "applied", G_CALLBACK (on_applied), &applied);
  started = g_get_monotonic_time ();
  g_assert_true (companion_phone_event_source_start (source, &error));
  g_assert_no_error (error);
  g_timeout_add (500, on_done, loop);
  g_main_loop_run (loop);
  companion_phone_event_source_stop (source);
  elapsed = g_get_monotonic_time () - started;

  count = companion_phone_event_source_get_count (source);
  g_test_message ("%" G_GUINT64_FORMAT " events in %" G_GINT64_FORMAT " µs, %u ticks",
                  count, elapsed, applied.ticks);
  g_assert_cmpuint (count, ==, applied.applied);
  g_assert_cmpuint (count, <=, (guint64) (rate * elapsed / G_USEC_PER_SEC) + 1);
  g_assert_cmpuint (count, >=, (guint64) (rate * 0.3));      /* 500 ms minus slow-machine slack */
  /* Batched: far fewer ticks than events. */
  g_assert_cmpuint (applied.ticks, <, count);
  /* Every event wrote at least one change. */
  g_assert_cmpuint (companion_phone_store_get_last_seq (store) - first_seq, >=, count);

  g_clear_object (&source);
  g_clear_object (&bad);
  g_clear_object (&events);
  g_clear_object (&store);
  test_util_remove_tree (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add ("/phone-events/" path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("message-in", test_message_in);
  ADD ("message-out-idempotent", test_message_out_idempotent);
  ADD ("edit-delete-react", test_edit_delete_react);
  ADD ("read-and-status", test_read_and_status);
  ADD ("call-chat-media", test_call_chat_media);
  ADD ("bad-events", test_bad_events);
  ADD ("time-order", test_time_order);
#undef ADD
  g_test_add_func ("/phone-events/source-deterministic", test_source_deterministic);
  g_test_add_func ("/phone-events/source-rate", test_source_rate);
  return g_test_run ();
}
