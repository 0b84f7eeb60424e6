/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "companion-core.h"
#include "companion-record.h"

#define HASH_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HASH_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static JsonNode *
parse (const char *json)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, json, -1, &error);
  g_assert_no_error (error);
  return json_node_copy (json_parser_get_root (parser));
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(JsonNode) node = parse (json);

  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  return json_object_ref (json_node_get_object (node));
}

static char *
canonical_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);
  gsize length = 0;
  char *text = companion_canonical_json (node, &length);

  g_assert_cmpuint (length, ==, strlen (text));
  return text;
}

static void
assert_canonical (const char *json,
                  const char *expected)
{
  g_autoptr(JsonNode) node = parse (json);
  gsize length = 0;
  g_autofree char *text = companion_canonical_json (node, &length);

  g_assert_cmpstr (text, ==, expected);
  g_assert_cmpuint (length, ==, strlen (expected));
}

/* RECORD is valid for ENTITY, its canonical form is EXPECTED, and that form
 * parses back to itself. */
static void
assert_valid (CompanionEntity  entity,
              const char      *json,
              const char      *expected)
{
  g_autoptr(JsonObject) record = parse_object (json);
  g_autoptr(JsonObject) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;

  companion_record_validate (entity, record, &error);
  g_assert_no_error (error);
  text = canonical_object (record);
  if (expected != NULL)
    g_assert_cmpstr (text, ==, expected);

  again = parse_object (text);
  companion_record_validate (entity, again, &error);
  g_assert_no_error (error);
  text_again = canonical_object (again);
  g_assert_cmpstr (text_again, ==, text);
}

static void
assert_record_error (CompanionEntity  entity,
                     JsonObject      *record,
                     int              code,
                     const char      *field)
{
  g_autoptr(GError) error = NULL;

  g_assert_false (companion_record_validate (entity, record, &error));
  g_assert_error (error, COMPANION_RECORD_ERROR, code);
  g_assert_true (g_str_has_prefix (error->message, companion_entity_to_string (entity)));
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  if (field != NULL)
    {
      g_autofree char *quoted = g_strdup_printf ("“%s”", field);

      if (strstr (error->message, quoted) == NULL)
        g_error ("“%s” is not in the error “%s”", field, error->message);
    }
}

/* BASE with the members of PATCH set over it; a member whose value is the
 * string "<absent>" is removed instead. */
static JsonObject *
patched (const char *base,
         const char *patch)
{
  JsonObject *record = parse_object (base);
  g_autoptr(JsonObject) changes = parse_object (patch);
  JsonObjectIter iter;
  const char *name;
  JsonNode *node;

  json_object_iter_init (&iter, changes);
  while (json_object_iter_next (&iter, &name, &node))
    {
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING &&
          g_str_equal (json_node_get_string (node), "<absent>"))
        json_object_remove_member (record, name);
      else
        json_object_set_member (record, name, json_node_copy (node));
    }
  return record;
}

typedef struct
{
  const char *patch;
  int         code;
  const char *field;
} BadCase;

static void
check_cases (CompanionEntity  entity,
             const char      *base,
             const BadCase   *cases,
             gsize            n_cases)
{
  g_autoptr(JsonObject) valid = parse_object (base);
  g_autoptr(GError) error = NULL;

  companion_record_validate (entity, valid, &error);
  g_assert_no_error (error);

  for (gsize i = 0; i < n_cases; i++)
    {
      g_autoptr(JsonObject) record = patched (base, cases[i].patch);

      g_test_message ("%s %s", companion_entity_to_string (entity), cases[i].patch);
      if (cases[i].code < 0)
        {
          companion_record_validate (entity, record, &error);
          g_assert_no_error (error);
        }
      else
        assert_record_error (entity, record, cases[i].code, cases[i].field);
    }
}

#define OK      -1
#define MISSING COMPANION_RECORD_ERROR_MISSING_FIELD
#define INVALID COMPANION_RECORD_ERROR_INVALID_FIELD
#define LARGE   COMPANION_RECORD_ERROR_TOO_LARGE
#define UNKNOWN COMPANION_RECORD_ERROR_UNKNOWN_FIELD

static void
test_entity_names (void)
{
  static const char *names[] = { "contact", "chat", "message", "media", "call" };
  CompanionEntity entity;

  for (guint i = 0; i < COMPANION_N_ENTITIES; i++)
    {
      g_assert_cmpstr (companion_entity_to_string (i), ==, names[i]);
      g_assert_true (companion_entity_from_string (names[i], &entity));
      g_assert_cmpint (entity, ==, i);
    }
  g_assert_false (companion_entity_from_string ("contacts", &entity));
  g_assert_false (companion_entity_from_string ("", &entity));
  g_assert_false (companion_entity_from_string ("Chat", &entity));
  g_assert_false (companion_entity_from_string (NULL, &entity));

  g_assert_true (companion_record_id_is_valid (COMPANION_ENTITY_CHAT, "a"));
  g_assert_true (companion_record_id_is_valid (COMPANION_ENTITY_CHAT, "A-z_09"));
  g_assert_false (companion_record_id_is_valid (COMPANION_ENTITY_CHAT, ""));
  g_assert_false (companion_record_id_is_valid (COMPANION_ENTITY_CHAT, "a.b"));
  g_assert_false (companion_record_id_is_valid (COMPANION_ENTITY_CHAT, NULL));
  g_assert_true (companion_record_id_is_valid (COMPANION_ENTITY_MEDIA, HASH_A));
  g_assert_false (companion_record_id_is_valid (COMPANION_ENTITY_MEDIA, "m-1"));
}

static void
test_valid_records (void)
{
  g_autoptr(JsonObject) record = NULL;
  g_autofree char *id64 = g_strnfill (64, 'x');
  g_autofree char *json = NULL;

  assert_valid (COMPANION_ENTITY_CONTACT,
                "{\"name\":\"Ada Lovelace\",\"id\":\"c-1\",\"phone\":\"+44 (20) 7946-0958\"}",
                "{\"id\":\"c-1\",\"name\":\"Ada Lovelace\",\"phone\":\"+44 (20) 7946-0958\"}");
  assert_valid (COMPANION_ENTITY_CONTACT,
                "{\"id\":\"Z_9\",\"name\":\"Zoë\",\"phone\":null}",
                "{\"id\":\"Z_9\",\"name\":\"Zoë\"}");
  json = g_strdup_printf ("{\"id\":\"%s\",\"name\":\"x\"}", id64);
  assert_valid (COMPANION_ENTITY_CONTACT, json, json);

  assert_valid (COMPANION_ENTITY_CHAT,
                "{\"id\":\"ch-1\",\"kind\":\"direct\",\"title\":\"\",\"participants\":[\"c-1\"],"
                "\"unread\":1000000,\"pinned\":true,\"muted\":false,\"archived\":true}",
                "{\"archived\":true,\"id\":\"ch-1\",\"kind\":\"direct\",\"muted\":false,"
                "\"participants\":[\"c-1\"],\"pinned\":true,\"title\":\"\",\"unread\":1000000}");
  assert_valid (COMPANION_ENTITY_CHAT,
                "{\"id\":\"ch-2\",\"kind\":\"group\",\"title\":\"Family 👪\",\"participants\":[\"C\",\"a\",\"b-1\",\"b_1\"],"
                "\"unread\":0,\"pinned\":false,\"muted\":true,\"archived\":false}",
                "{\"archived\":false,\"id\":\"ch-2\",\"kind\":\"group\",\"muted\":true,"
                "\"participants\":[\"C\",\"a\",\"b-1\",\"b_1\"],\"pinned\":false,\"title\":\"Family 👪\",\"unread\":0}");

  assert_valid (COMPANION_ENTITY_MESSAGE,
                "{\"id\":\"m-1\",\"chat\":\"ch-1\",\"from\":\"c-2\",\"time\":1700000000000,"
                "\"text\":\"Café ☕ \\\"ok\\\" a/b\\n\\ttab\\u0001\\\\\",\"media\":null,\"reply_to\":\"m-0\","
                "\"edited_at\":1700000001000,\"deleted\":false,\"reactions\":{\"me\":\"👍\",\"c-1\":\"❤️\"}}",
                "{\"chat\":\"ch-1\",\"deleted\":false,\"edited_at\":1700000001000,\"from\":\"c-2\",\"id\":\"m-1\","
                "\"reactions\":{\"c-1\":\"❤️\",\"me\":\"👍\"},\"reply_to\":\"m-0\","
                "\"text\":\"Café ☕ \\\"ok\\\" a/b\\n\\ttab\\u0001\\\\\",\"time\":1700000000000}");
  assert_valid (COMPANION_ENTITY_MESSAGE,
                "{\"id\":\"m-2\",\"chat\":\"ch-1\",\"time\":0,\"text\":\"\",\"media\":\"" HASH_A "\","
                "\"status\":\"read\",\"deleted\":false}",
                "{\"chat\":\"ch-1\",\"deleted\":false,\"id\":\"m-2\",\"media\":\"" HASH_A "\","
                "\"status\":\"read\",\"text\":\"\",\"time\":0}");
  assert_valid (COMPANION_ENTITY_MESSAGE,
                "{\"id\":\"m-3\",\"chat\":\"ch-1\",\"from\":\"c-1\",\"time\":9007199254740992,\"text\":\"\","
                "\"deleted\":true,\"reactions\":{}}",
                "{\"chat\":\"ch-1\",\"deleted\":true,\"from\":\"c-1\",\"id\":\"m-3\",\"reactions\":{},"
                "\"text\":\"\",\"time\":9007199254740992}");

  assert_valid (COMPANION_ENTITY_MEDIA,
                "{\"hash\":\"" HASH_A "\",\"kind\":\"video\",\"mime\":\"video/mp4\",\"name\":\"clip ünï.mp4\","
                "\"size\":4294967296,\"width\":1920,\"height\":1080,\"duration_ms\":86400000}",
                "{\"duration_ms\":86400000,\"hash\":\"" HASH_A "\",\"height\":1080,\"kind\":\"video\","
                "\"mime\":\"video/mp4\",\"name\":\"clip ünï.mp4\",\"size\":4294967296,\"width\":1920}");
  assert_valid (COMPANION_ENTITY_MEDIA,
                "{\"hash\":\"" HASH_B "\",\"kind\":\"document\",\"mime\":\"application/vnd.oasis.opendocument.text\","
                "\"name\":\"a\",\"size\":1,\"width\":null}",
                "{\"hash\":\"" HASH_B "\",\"kind\":\"document\",\"mime\":\"application/vnd.oasis.opendocument.text\","
                "\"name\":\"a\",\"size\":1}");

  assert_valid (COMPANION_ENTITY_CALL,
                "{\"id\":\"k-1\",\"kind\":\"video\",\"direction\":\"incoming\",\"missed\":true,"
                "\"time\":1700000000000,\"duration_s\":0,\"participants\":[\"c-1\",\"c-2\"]}",
                "{\"direction\":\"incoming\",\"duration_s\":0,\"id\":\"k-1\",\"kind\":\"video\",\"missed\":true,"
                "\"participants\":[\"c-1\",\"c-2\"],\"time\":1700000000000}");
  assert_valid (COMPANION_ENTITY_CALL,
                "{\"id\":\"k-2\",\"kind\":\"voice\",\"direction\":\"outgoing\",\"missed\":false,"
                "\"time\":1,\"duration_s\":86400,\"participants\":[\"c-1\"]}",
                "{\"direction\":\"outgoing\",\"duration_s\":86400,\"id\":\"k-2\",\"kind\":\"voice\",\"missed\":false,"
                "\"participants\":[\"c-1\"],\"time\":1}");

  record = parse_object ("{\"hash\":\"" HASH_A "\",\"id\":\"x\"}");
  g_assert_cmpstr (companion_record_get_id (COMPANION_ENTITY_MEDIA, record), ==, HASH_A);
  g_assert_cmpstr (companion_record_get_id (COMPANION_ENTITY_CHAT, record), ==, "x");
  g_clear_pointer (&record, json_object_unref);
  record = parse_object ("{\"id\":7}");
  g_assert_null (companion_record_get_id (COMPANION_ENTITY_CHAT, record));
  g_assert_null (companion_record_get_id (COMPANION_ENTITY_MEDIA, record));
}

static void
test_error_message (void)
{
  g_autoptr(JsonObject) record = parse_object ("{\"id\":\"m-7\",\"chat\":\"c\",\"time\":\"noon\",\"text\":\"x\",\"deleted\":false}");
  g_autoptr(JsonObject) anonymous = parse_object ("{\"id\":\"not an id\",\"name\":\"x\"}");
  g_autoptr(JsonObject) missing = parse_object ("{\"name\":\"x\"}");
  g_autoptr(GError) error = NULL;

  g_assert_false (companion_record_validate (COMPANION_ENTITY_MESSAGE, record, &error));
  g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_FIELD);
  g_assert_cmpstr (error->message, ==, "message “m-7”: “time” must be an integer");
  g_clear_error (&error);

  g_assert_false (companion_record_validate (COMPANION_ENTITY_CONTACT, anonymous, &error));
  g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_FIELD);
  g_assert_true (g_str_has_prefix (error->message, "contact: “id” "));
  g_assert_null (strstr (error->message, "not an id"));
  g_clear_error (&error);

  g_assert_false (companion_record_validate (COMPANION_ENTITY_CONTACT, missing, &error));
  g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_MISSING_FIELD);
  g_assert_cmpstr (error->message, ==, "contact: “id” is missing");
}

static void
test_contact_rules (void)
{
  g_autofree char *a65 = g_strnfill (65, 'a');
  g_autofree char *long_id = g_strdup_printf ("{\"id\":\"%s\"}", a65);
  g_autofree char *name_256 = NULL, *name_257 = NULL, *name_wide = NULL, *phone_33 = NULL;
  g_autofree char *fill = NULL;
  GString *wide = g_string_new (NULL);

  fill = g_strnfill (256, 'n');
  name_256 = g_strdup_printf ("{\"name\":\"%s\"}", fill);
  g_free (fill);
  fill = g_strnfill (257, 'n');
  name_257 = g_strdup_printf ("{\"name\":\"%s\"}", fill);
  g_free (fill);
  /* 129 characters but 258 bytes: limits count bytes. */
  for (guint i = 0; i < 129; i++)
    g_string_append (wide, "é");
  name_wide = g_strdup_printf ("{\"name\":\"%s\"}", wide->str);
  g_string_free (wide, TRUE);
  fill = g_strnfill (33, '1');
  phone_33 = g_strdup_printf ("{\"phone\":\"%s\"}", fill);

  {
    const BadCase cases[] = {
      { "{\"id\":\"<absent>\"}", MISSING, "id" },
      { "{\"id\":null}", MISSING, "id" },
      { "{\"id\":\"\"}", INVALID, "id" },
      { long_id, INVALID, "id" },
      { "{\"id\":\"a b\"}", INVALID, "id" },
      { "{\"id\":\"a.b\"}", INVALID, "id" },
      { "{\"id\":\"é\"}", INVALID, "id" },
      { "{\"id\":7}", INVALID, "id" },
      { "{\"id\":[\"c-1\"]}", INVALID, "id" },
      { "{\"id\":{\"id\":\"c-1\"}}", INVALID, "id" },
      { "{\"name\":\"<absent>\"}", MISSING, "name" },
      { "{\"name\":null}", MISSING, "name" },
      { "{\"name\":\"\"}", INVALID, "name" },
      { name_256, OK, NULL },
      { name_257, LARGE, "name" },
      { name_wide, LARGE, "name" },
      { "{\"name\":5}", INVALID, "name" },
      { "{\"name\":true}", INVALID, "name" },
      { "{\"name\":[\"x\"]}", INVALID, "name" },
      { "{\"name\":{\"first\":\"x\"}}", INVALID, "name" },
      { "{\"phone\":\"<absent>\"}", OK, NULL },
      { "{\"phone\":null}", OK, NULL },
      { "{\"phone\":\"\"}", INVALID, "phone" },
      { "{\"phone\":\"555-CALL\"}", INVALID, "phone" },
      { "{\"phone\":\"+1.555\"}", INVALID, "phone" },
      { "{\"phone\":\"+1\\n555\"}", INVALID, "phone" },
      { phone_33, LARGE, "phone" },
      { "{\"phone\":5551234}", INVALID, "phone" },
      { "{\"email\":\"a@b\"}", UNKNOWN, "email" },
      { "{\"email\":null}", UNKNOWN, "email" },
      { "{\"Name\":\"x\"}", UNKNOWN, "Name" },
      { "{\"hash\":\"" HASH_A "\"}", UNKNOWN, "hash" },
      { "{\"a field with spaces\":1}", UNKNOWN, NULL },
    };
    check_cases (COMPANION_ENTITY_CONTACT, "{\"id\":\"c-1\",\"name\":\"Ada\",\"phone\":\"+1 555\"}",
                 cases, G_N_ELEMENTS (cases));
  }
}

static char *
participants_patch (const char *kind,
                    guint       count)
{
  GString *patch = g_string_new ("{");

  if (kind != NULL)
    g_string_append_printf (patch, "\"kind\":\"%s\",", kind);
  g_string_append (patch, "\"participants\":[");
  for (guint i = 0; i < count; i++)
    g_string_append_printf (patch, "%s\"p%05u\"", i > 0 ? "," : "", i);
  g_string_append (patch, "]}");
  return g_string_free (patch, FALSE);
}

static void
test_chat_rules (void)
{
  g_autofree char *group_1024 = participants_patch (NULL, 1024);
  g_autofree char *group_1025 = participants_patch (NULL, 1025);
  g_autofree char *direct_2 = participants_patch ("direct", 2);
  g_autofree char *direct_0 = participants_patch ("direct", 0);
  g_autofree char *fill = g_strnfill (257, 't');
  g_autofree char *title_257 = g_strdup_printf ("{\"title\":\"%s\"}", fill);
  const BadCase cases[] = {
    { "{\"kind\":\"<absent>\"}", MISSING, "kind" },
    { "{\"kind\":\"channel\"}", INVALID, "kind" },
    { "{\"kind\":\"Group\"}", INVALID, "kind" },
    { "{\"kind\":1}", INVALID, "kind" },
    { "{\"title\":\"<absent>\"}", MISSING, "title" },
    { "{\"title\":\"\"}", OK, NULL },
    { title_257, LARGE, "title" },
    { "{\"title\":false}", INVALID, "title" },
    { "{\"participants\":\"<absent>\"}", MISSING, "participants" },
    { "{\"participants\":[]}", INVALID, "participants" },
    { "{\"participants\":\"a\"}", INVALID, "participants" },
    { "{\"participants\":{\"a\":1}}", INVALID, "participants" },
    { "{\"participants\":[\"b\",\"a\"]}", INVALID, "participants" },
    { "{\"participants\":[\"a\",\"a\"]}", INVALID, "participants" },
    { "{\"participants\":[\"a\",\"B\"]}", INVALID, "participants" },
    { "{\"participants\":[\"a\",1]}", INVALID, "participants" },
    { "{\"participants\":[\"a\",null]}", INVALID, "participants" },
    { "{\"participants\":[\"a\",\"b c\"]}", INVALID, "participants" },
    { "{\"participants\":[\"a\",[\"b\"]]}", INVALID, "participants" },
    { group_1024, OK, NULL },
    { group_1025, LARGE, "participants" },
    { "{\"kind\":\"direct\",\"participants\":[\"a\"]}", OK, NULL },
    { direct_2, INVALID, "participants" },
    { direct_0, INVALID, "participants" },
    { "{\"unread\":\"<absent>\"}", MISSING, "unread" },
    { "{\"unread\":-1}", INVALID, "unread" },
    { "{\"unread\":1000001}", INVALID, "unread" },
    { "{\"unread\":1000000}", OK, NULL },
    { "{\"unread\":1.5}", INVALID, "unread" },
    { "{\"unread\":1.0}", INVALID, "unread" },
    { "{\"unread\":1e2}", INVALID, "unread" },
    { "{\"unread\":true}", INVALID, "unread" },
    { "{\"unread\":\"1\"}", INVALID, "unread" },
    { "{\"pinned\":\"<absent>\"}", MISSING, "pinned" },
    { "{\"pinned\":1}", INVALID, "pinned" },
    { "{\"muted\":null}", MISSING, "muted" },
    { "{\"muted\":\"false\"}", INVALID, "muted" },
    { "{\"archived\":\"<absent>\"}", MISSING, "archived" },
    { "{\"archived\":[]}", INVALID, "archived" },
    { "{\"members\":[]}", UNKNOWN, "members" },
  };

  check_cases (COMPANION_ENTITY_CHAT,
               "{\"id\":\"ch-1\",\"kind\":\"group\",\"title\":\"T\",\"participants\":[\"a\",\"b\"],"
               "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}",
               cases, G_N_ELEMENTS (cases));
}

static char *
reactions_patch (guint count)
{
  GString *patch = g_string_new ("{\"reactions\":{");

  for (guint i = 0; i < count; i++)
    g_string_append_printf (patch, "%s\"c%05u\":\"👍\"", i > 0 ? "," : "", i);
  g_string_append (patch, "}}");
  return g_string_free (patch, FALSE);
}

static void
test_message_rules (void)
{
  g_autofree char *fill = g_strnfill (49152, 't');
  g_autofree char *text_max = g_strdup_printf ("{\"text\":\"%s\"}", fill);
  g_autofree char *text_over = g_strdup_printf ("{\"text\":\"%st\"}", fill);
  g_autofree char *reactions_1024 = reactions_patch (1024);
  g_autofree char *reactions_1025 = reactions_patch (1025);
  g_autoptr(GString) controls = g_string_new ("{\"text\":\"");
  const char *base = "{\"id\":\"m-1\",\"chat\":\"ch-1\",\"time\":1700000000000,\"text\":\"hi\",\"deleted\":false}";
  const BadCase cases[] = {
    { "{\"chat\":\"<absent>\"}", MISSING, "chat" },
    { "{\"chat\":\"ch 1\"}", INVALID, "chat" },
    { "{\"chat\":1}", INVALID, "chat" },
    { "{\"from\":\"\"}", INVALID, "from" },
    { "{\"from\":{}}", INVALID, "from" },
    { "{\"from\":null}", OK, NULL },
    { "{\"time\":\"<absent>\"}", MISSING, "time" },
    { "{\"time\":1.7e12}", INVALID, "time" },
    { "{\"time\":1700000000000.0}", INVALID, "time" },
    { "{\"time\":-1}", INVALID, "time" },
    { "{\"time\":9007199254740993}", INVALID, "time" },
    { "{\"time\":\"1700000000000\"}", INVALID, "time" },
    { "{\"time\":true}", INVALID, "time" },
    { "{\"text\":\"<absent>\"}", MISSING, "text" },
    { "{\"text\":null}", MISSING, "text" },
    { "{\"text\":1}", INVALID, "text" },
    { text_max, OK, NULL },
    { text_over, LARGE, "text" },
    { "{\"text\":\"\"}", INVALID, "text" },
    { "{\"text\":\"\",\"media\":\"" HASH_A "\"}", OK, NULL },
    { "{\"text\":\"\",\"deleted\":true}", OK, NULL },
    { "{\"deleted\":true}", INVALID, "text" },
    { "{\"text\":\"\",\"deleted\":true,\"media\":\"" HASH_A "\"}", INVALID, "media" },
    { "{\"deleted\":\"<absent>\"}", MISSING, "deleted" },
    { "{\"deleted\":0}", INVALID, "deleted" },
    { "{\"media\":\"" HASH_A "0\"}", INVALID, "media" },
    { "{\"media\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}", INVALID, "media" },
    { "{\"media\":\"m-1\"}", INVALID, "media" },
    { "{\"media\":42}", INVALID, "media" },
    { "{\"reply_to\":\"m-0\"}", OK, NULL },
    { "{\"reply_to\":\"m 0\"}", INVALID, "reply_to" },
    { "{\"reply_to\":\"m-1\"}", INVALID, "reply_to" },
    { "{\"reply_to\":[]}", INVALID, "reply_to" },
    { "{\"status\":\"sent\"}", OK, NULL },
    { "{\"status\":\"pending\",\"from\":null}", OK, NULL },
    { "{\"status\":\"seen\"}", INVALID, "status" },
    { "{\"status\":1}", INVALID, "status" },
    { "{\"status\":\"read\",\"from\":\"c-1\"}", INVALID, "status" },
    { "{\"edited_at\":1700000000001}", OK, NULL },
    { "{\"edited_at\":1.5}", INVALID, "edited_at" },
    { "{\"edited_at\":-5}", INVALID, "edited_at" },
    { "{\"edited_at\":false}", INVALID, "edited_at" },
    { "{\"reactions\":null}", OK, NULL },
    { "{\"reactions\":[]}", INVALID, "reactions" },
    { "{\"reactions\":\"👍\"}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"👍🏽\",\"c-2\":\"❤️\",\"c-3\":\"🇫🇷\",\"c-4\":\"👨‍👩‍👧\","
      "\"c-5\":\"1️⃣\",\"c-6\":\"🏴󠁧󠁢󠁳󠁣󠁴󠁿\",\"c-7\":\"☺\"}}", OK, NULL },
    { "{\"reactions\":{\"c 1\":\"👍\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"\":\"👍\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"ok\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"1\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"👍👍\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"👍 \"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"👨‍\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"🇫\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"\\u0301\"}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":\"👨‍👩‍👧‍👦‍👨‍👩\"}}", LARGE, "reactions" },
    { "{\"reactions\":{\"me\":1}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":null}}", INVALID, "reactions" },
    { "{\"reactions\":{\"me\":{\"emoji\":\"👍\"}}}", INVALID, "reactions" },
    { reactions_1024, OK, NULL },
    { reactions_1025, LARGE, "reactions" },
    { "{\"read\":true}", UNKNOWN, "read" },
  };

  check_cases (COMPANION_ENTITY_MESSAGE, base, cases, G_N_ELEMENTS (cases));

  /* Every field within its limit, but the canonical form over the record limit. */
  for (guint i = 0; i < 20000; i++)
    g_string_append (controls, "\\u0001");
  g_string_append (controls, "\"}");
  {
    g_autoptr(JsonObject) record = patched (base, controls->str);
    g_autoptr(GError) error = NULL;

    g_assert_false (companion_record_validate (COMPANION_ENTITY_MESSAGE, record, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_TOO_LARGE);
    g_assert_true (g_str_has_prefix (error->message, "message “m-1”: "));
  }
}

static void
test_media_rules (void)
{
  g_autofree char *fill = g_strnfill (125, 'a');
  g_autofree char *mime_128 = g_strdup_printf ("{\"mime\":\"ab/%s\"}", fill);
  g_autofree char *mime_129 = g_strdup_printf ("{\"mime\":\"abc/%s\"}", fill);
  g_autofree char *name_fill = g_strnfill (257, 'f');
  g_autofree char *name_257 = g_strdup_printf ("{\"name\":\"%s\"}", name_fill);
  g_autofree char *big_fill = g_strnfill (COMPANION_MEDIA_THUMBNAIL_MAX_BASE64 + 4, 'A');
  g_autofree char *thumbnail_too_big = g_strdup_printf ("{\"thumbnail\":\"%s\"}", big_fill);
  const BadCase cases[] = {
    { "{\"hash\":\"<absent>\"}", MISSING, "hash" },
    { "{\"hash\":\"" HASH_B "\"}", OK, NULL },
    { "{\"hash\":\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\"}", INVALID, "hash" },
    { "{\"hash\":\"0123456789abcdef\"}", INVALID, "hash" },
    { "{\"hash\":\"g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}", INVALID, "hash" },
    { "{\"hash\":1}", INVALID, "hash" },
    { "{\"id\":\"x\"}", UNKNOWN, "id" },
    { "{\"kind\":\"<absent>\"}", MISSING, "kind" },
    { "{\"kind\":\"gif\"}", INVALID, "kind" },
    { "{\"mime\":\"<absent>\"}", MISSING, "mime" },
    { "{\"mime\":\"a/\"}", INVALID, "mime" },
    { "{\"mime\":\"a/b\"}", OK, NULL },
    { "{\"mime\":\"imagejpeg\"}", INVALID, "mime" },
    { "{\"mime\":\"image/\"}", INVALID, "mime" },
    { "{\"mime\":\"/jpeg\"}", INVALID, "mime" },
    { "{\"mime\":\"image/jpeg/x\"}", INVALID, "mime" },
    { "{\"mime\":\"image/jpeg; q=1\"}", INVALID, "mime" },
    { "{\"mime\":\"image/svg+xml\"}", OK, NULL },
    { mime_128, OK, NULL },
    { mime_129, LARGE, "mime" },
    { "{\"mime\":[]}", INVALID, "mime" },
    { "{\"name\":\"<absent>\"}", MISSING, "name" },
    { "{\"name\":\"\"}", INVALID, "name" },
    { "{\"name\":\"a/b.jpg\"}", INVALID, "name" },
    { "{\"name\":\"a\\\\b.jpg\"}", OK, NULL },
    { name_257, LARGE, "name" },
    { "{\"size\":\"<absent>\"}", MISSING, "size" },
    { "{\"size\":0}", INVALID, "size" },
    { "{\"size\":4294967296}", OK, NULL },
    { "{\"size\":4294967297}", INVALID, "size" },
    { "{\"size\":1.5}", INVALID, "size" },
    { "{\"size\":\"1\"}", INVALID, "size" },
    { "{\"width\":\"<absent>\",\"height\":\"<absent>\"}", OK, NULL },
    { "{\"width\":0}", INVALID, "width" },
    { "{\"width\":65535}", OK, NULL },
    { "{\"width\":65536}", INVALID, "width" },
    { "{\"width\":true}", INVALID, "width" },
    { "{\"height\":0}", INVALID, "height" },
    { "{\"height\":65536}", INVALID, "height" },
    { "{\"height\":480.5}", INVALID, "height" },
    { "{\"kind\":\"voice\"}", INVALID, "width" },
    { "{\"kind\":\"document\",\"width\":\"<absent>\"}", INVALID, "height" },
    { "{\"kind\":\"voice\",\"width\":null,\"height\":null,\"duration_ms\":1000}", OK, NULL },
    { "{\"kind\":\"video\",\"duration_ms\":1000}", OK, NULL },
    { "{\"duration_ms\":1000}", INVALID, "duration_ms" },
    { "{\"kind\":\"document\",\"width\":null,\"height\":null,\"duration_ms\":1}", INVALID, "duration_ms" },
    { "{\"kind\":\"video\",\"duration_ms\":0}", INVALID, "duration_ms" },
    { "{\"kind\":\"video\",\"duration_ms\":86400001}", INVALID, "duration_ms" },
    { "{\"kind\":\"video\",\"duration_ms\":\"1s\"}", INVALID, "duration_ms" },
    { "{\"thumbnail\":\"iVBORw0KGgp0aHVtYm5haWwtYm9keQ==\"}", OK, NULL },
    { "{\"kind\":\"video\",\"thumbnail\":\"iVBORw0KGgp0aHVtYm5haWwtYm9keQ==\"}", OK, NULL },
    { "{\"kind\":\"document\",\"width\":null,\"height\":null,\"thumbnail\":\"iVBORw0KGgp0aHVtYm5haWwtYm9keQ==\"}", INVALID, "thumbnail" },
    { "{\"thumbnail\":\"R0lGODlhLW5vdC1hLXBuZw==\"}", INVALID, "thumbnail" },
    { "{\"thumbnail\":\"not base64!\"}", INVALID, "thumbnail" },
    { "{\"thumbnail\":\"iVBORw0KGgo\"}", INVALID, "thumbnail" },
    { "{\"thumbnail\":\"\"}", INVALID, "thumbnail" },
    { "{\"thumbnail\":12}", INVALID, "thumbnail" },
    { thumbnail_too_big, LARGE, "thumbnail" },
    { "{\"path\":\"/tmp/a\"}", UNKNOWN, "path" },
  };

  check_cases (COMPANION_ENTITY_MEDIA,
               "{\"hash\":\"" HASH_A "\",\"kind\":\"image\",\"mime\":\"image/jpeg\",\"name\":\"a.jpg\","
               "\"size\":1024,\"width\":640,\"height\":480}",
               cases, G_N_ELEMENTS (cases));
}

static void
test_call_rules (void)
{
  g_autofree char *many = participants_patch (NULL, 64);
  g_autofree char *too_many = participants_patch (NULL, 65);
  const BadCase cases[] = {
    { "{\"kind\":\"<absent>\"}", MISSING, "kind" },
    { "{\"kind\":\"fax\"}", INVALID, "kind" },
    { "{\"direction\":\"<absent>\"}", MISSING, "direction" },
    { "{\"direction\":\"sideways\"}", INVALID, "direction" },
    { "{\"direction\":true}", INVALID, "direction" },
    { "{\"missed\":\"<absent>\"}", MISSING, "missed" },
    { "{\"missed\":\"no\"}", INVALID, "missed" },
    { "{\"direction\":\"outgoing\",\"missed\":true,\"duration_s\":0}", INVALID, "missed" },
    { "{\"missed\":true}", INVALID, "duration_s" },
    { "{\"missed\":true,\"duration_s\":0}", OK, NULL },
    { "{\"time\":\"<absent>\"}", MISSING, "time" },
    { "{\"time\":0.5}", INVALID, "time" },
    { "{\"duration_s\":\"<absent>\"}", MISSING, "duration_s" },
    { "{\"duration_s\":-1}", INVALID, "duration_s" },
    { "{\"duration_s\":86400}", OK, NULL },
    { "{\"duration_s\":86401}", INVALID, "duration_s" },
    { "{\"duration_s\":60.0}", INVALID, "duration_s" },
    { "{\"participants\":\"<absent>\"}", MISSING, "participants" },
    { "{\"participants\":[]}", INVALID, "participants" },
    { "{\"participants\":[\"b\",\"a\"]}", INVALID, "participants" },
    { "{\"participants\":[\"a\",\"a\"]}", INVALID, "participants" },
    { many, OK, NULL },
    { too_many, LARGE, "participants" },
    { "{\"chat\":\"ch-1\"}", UNKNOWN, "chat" },
  };

  check_cases (COMPANION_ENTITY_CALL,
               "{\"id\":\"k-1\",\"kind\":\"voice\",\"direction\":\"incoming\",\"missed\":false,"
               "\"time\":1,\"duration_s\":60,\"participants\":[\"a\"]}",
               cases, G_N_ELEMENTS (cases));
}

static void
test_canonical (void)
{
  g_autoptr(JsonNode) number = json_node_new (JSON_NODE_VALUE);
  g_autofree char *text = NULL;

  assert_canonical ("{\"b\":{\"d\":[{\"z\":1,\"a\":null,\"m\":[3,{\"y\":true,\"x\":false}]}],\"c\":null},"
                    "\"a\":\"x/y\",\"é\":1,\"e\":2,\"A\":0,\"_\":[],\"~\":{}}",
                    "{\"A\":0,\"_\":[],\"a\":\"x/y\",\"b\":{\"d\":[{\"m\":[3,{\"x\":false,\"y\":true}],\"z\":1}]},"
                    "\"e\":2,\"~\":{},\"é\":1}");
  /* Byte order, not code point order from UTF-16 (U+FF61 after U+1F600 there). */
  assert_canonical ("{\"😀\":1,\"｡\":2,\"z\":3}", "{\"z\":3,\"｡\":2,\"😀\":1}");
  assert_canonical ("[null,1,{\"a\":null},[null]]", "[null,1,{},[null]]");
  assert_canonical ("  { \"a\" : [ 1 , 2 ] }  ", "{\"a\":[1,2]}");
  assert_canonical ("\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\\\/\\u001f\\u007f é 😀 \\u2028\\u00e9\\ud83d\\ude00\"",
                    "\"\\u0001\\b\\f\\n\\r\\t\\\"\\\\/\\u001f\x7f é 😀 \xe2\x80\xa8é😀\"");
  assert_canonical ("{\"a\\nb\":\"\\u000b\"}", "{\"a\\nb\":\"\\u000b\"}");
  assert_canonical ("[0,-0,-1,9007199254740993,-9223372036854775808,9223372036854775807]",
                    "[0,0,-1,9007199254740993,-9223372036854775808,9223372036854775807]");
  assert_canonical ("[true,false,null]", "[true,false,null]");
  assert_canonical ("{}", "{}");
  assert_canonical ("[]", "[]");
  assert_canonical ("\"\"", "\"\"");
  assert_canonical ("null", "null");

  json_node_set_double (number, 1.5);
  text = companion_canonical_json (number, NULL);
  g_assert_cmpstr (text, ==, "1.5");
  g_clear_pointer (&text, g_free);
  json_node_set_double (number, 0.1);
  text = companion_canonical_json (number, NULL);
  g_assert_cmpstr (text, ==, "0.10000000000000001");
  g_clear_pointer (&text, g_free);
  json_node_set_string (number, "bad \xff utf-8");
  text = companion_canonical_json (number, NULL);
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_assert_cmpstr (text, ==, "\"bad \xef\xbf\xbd utf-8\"");
}

static void
test_canonical_deep (void)
{
  const guint depth = 100000;
  JsonNode *root = json_node_new (JSON_NODE_ARRAY);
  JsonArray *inner;
  g_autofree char *text = NULL;
  gsize length = 0;

  /* 100 000 nested arrays, then an object at the bottom. */
  inner = json_array_new ();
  json_node_take_array (root, inner);
  for (guint i = 1; i < depth; i++)
    {
      JsonArray *next = json_array_new ();

      json_array_add_array_element (inner, next);
      inner = next;
    }
  {
    JsonObject *object = json_object_new ();

    json_object_set_int_member (object, "b", 2);
    json_object_set_null_member (object, "a");
    json_array_add_object_element (inner, object);
  }

  text = companion_canonical_json (root, &length);
  g_assert_cmpuint (length, ==, depth * 2 + strlen ("{\"b\":2}"));
  for (guint i = 0; i < depth; i++)
    {
      g_assert_cmpint (text[i], ==, '[');
      g_assert_cmpint (text[length - 1 - i], ==, ']');
    }
  g_assert_cmpmem (text + depth, 7, "{\"b\":2}", 7);

  /* Unwind without deep recursion in json-glib: detach from the bottom up. */
  {
    g_autoptr(GPtrArray) levels = g_ptr_array_new ();
    JsonArray *array = json_node_get_array (root);

    for (;;)
      {
        JsonNode *child = json_array_get_element (array, 0);

        g_ptr_array_add (levels, array);
        if (!JSON_NODE_HOLDS_ARRAY (child))
          break;
        array = json_node_get_array (child);
      }
    for (guint i = levels->len; i-- > 0;)
      json_array_remove_element (g_ptr_array_index (levels, i), 0);
  }
  json_node_unref (root);
}

static void
test_change_round_trip (void)
{
  const char *changes[] = {
    "{\"seq\":42,\"op\":\"upsert\",\"entity\":\"message\",\"record\":{\"id\":\"m-1\",\"chat\":\"ch-1\","
    "\"time\":5,\"text\":\"hi\",\"deleted\":false}}",
    "{\"seq\":43,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"ch-7\"}",
    "{\"seq\":1,\"op\":\"delete\",\"entity\":\"media\",\"id\":\"" HASH_A "\"}",
    "{\"seq\":9007199254740992,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":{\"id\":\"c-1\",\"name\":\"A\"}}",
  };
  const char *canonical[] = {
    "{\"entity\":\"message\",\"op\":\"upsert\",\"record\":{\"chat\":\"ch-1\",\"deleted\":false,\"id\":\"m-1\","
    "\"text\":\"hi\",\"time\":5},\"seq\":42}",
    "{\"entity\":\"chat\",\"id\":\"ch-7\",\"op\":\"delete\",\"seq\":43}",
    "{\"entity\":\"media\",\"id\":\"" HASH_A "\",\"op\":\"delete\",\"seq\":1}",
    "{\"entity\":\"contact\",\"op\":\"upsert\",\"record\":{\"id\":\"c-1\",\"name\":\"A\"},\"seq\":9007199254740992}",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (changes); i++)
    {
      g_autoptr(JsonObject) object = parse_object (changes[i]);
      g_autoptr(GError) error = NULL;
      g_autoptr(CompanionChange) change = companion_change_parse (object, &error);
      g_autoptr(CompanionChange) copy = NULL;
      g_autoptr(JsonObject) json = NULL;
      g_autofree char *text = NULL;
      CompanionChange *boxed;

      g_assert_no_error (error);
      g_assert_nonnull (change);
      json = companion_change_to_json (change);
      text = canonical_object (json);
      g_assert_cmpstr (text, ==, canonical[i]);

      copy = companion_change_copy (change);
      g_assert_cmpuint (copy->seq, ==, change->seq);
      g_assert_cmpint (copy->is_delete, ==, change->is_delete);
      g_assert_cmpint (copy->entity, ==, change->entity);
      g_assert_cmpstr (copy->id, ==, change->id);
      g_assert_true ((copy->record == NULL) == (change->record == NULL));

      boxed = g_boxed_copy (COMPANION_TYPE_CHANGE, change);
      g_assert_cmpstr (boxed->id, ==, change->id);
      g_boxed_free (COMPANION_TYPE_CHANGE, boxed);
    }

  {
    g_autoptr(JsonObject) object = parse_object (changes[0]);
    g_autoptr(CompanionChange) change = companion_change_parse (object, NULL);

    g_assert_cmpuint (change->seq, ==, 42);
    g_assert_false (change->is_delete);
    g_assert_cmpint (change->entity, ==, COMPANION_ENTITY_MESSAGE);
    g_assert_cmpstr (change->id, ==, "m-1");
    g_assert_nonnull (change->record);
  }
  {
    g_autoptr(CompanionChange) change = companion_change_new_delete (7, COMPANION_ENTITY_CALL, "k-1");
    g_autoptr(JsonObject) json = companion_change_to_json (change);
    g_autofree char *text = canonical_object (json);

    g_assert_cmpstr (text, ==, "{\"entity\":\"call\",\"id\":\"k-1\",\"op\":\"delete\",\"seq\":7}");
  }
  {
    g_autoptr(JsonObject) record = parse_object ("{\"hash\":\"" HASH_A "\",\"kind\":\"image\",\"mime\":\"image/png\","
                                                 "\"name\":\"a.png\",\"size\":3}");
    g_autoptr(CompanionChange) change = companion_change_new_upsert (8, COMPANION_ENTITY_MEDIA, record);
    g_autoptr(JsonObject) json = companion_change_to_json (change);
    g_autofree char *text = canonical_object (json);

    g_assert_cmpstr (change->id, ==, HASH_A);
    g_assert_cmpstr (text, ==, "{\"entity\":\"media\",\"op\":\"upsert\",\"record\":{\"hash\":\"" HASH_A "\","
                     "\"kind\":\"image\",\"mime\":\"image/png\",\"name\":\"a.png\",\"size\":3},\"seq\":8}");
  }
}

static void
assert_change_error (const char *json,
                     int         code,
                     const char *field)
{
  g_autoptr(JsonObject) object = parse_object (json);
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionChange) change = NULL;

  g_test_message ("%s", json);
  change = companion_change_parse (object, &error);
  g_assert_null (change);
  g_assert_error (error, COMPANION_RECORD_ERROR, code);
  g_assert_true (g_str_has_prefix (error->message, "change"));
  if (field != NULL)
    {
      g_autofree char *quoted = g_strdup_printf ("“%s”", field);

      if (strstr (error->message, quoted) == NULL)
        g_error ("“%s” is not in the error “%s”", field, error->message);
    }
}

static void
test_change_malformed (void)
{
  const int invalid = COMPANION_RECORD_ERROR_INVALID_CHANGE;
  const char *record = "{\"id\":\"c-1\",\"name\":\"A\"}";
  g_autofree char *with_record = g_strdup_printf ("{\"seq\":1,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":%s,"
                                                  "\"id\":\"c-1\"}", record);
  g_autofree char *delete_with_record = g_strdup_printf ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"contact\","
                                                         "\"id\":\"c-1\",\"record\":%s}", record);
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(GError) error = NULL;

  assert_change_error ("{\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":null,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":0,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":-1,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":1.0,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":\"1\",\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":true,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":9007199254740993,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "seq");
  assert_change_error ("{\"seq\":1,\"entity\":\"chat\",\"id\":\"c\"}", invalid, "op");
  assert_change_error ("{\"seq\":1,\"op\":\"insert\",\"entity\":\"chat\",\"id\":\"c\"}", invalid, "op");
  assert_change_error ("{\"seq\":1,\"op\":1,\"entity\":\"chat\",\"id\":\"c\"}", invalid, "op");
  assert_change_error ("{\"seq\":1,\"op\":[\"delete\"],\"entity\":\"chat\",\"id\":\"c\"}", invalid, "op");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"id\":\"c\"}", invalid, "entity");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"user\",\"id\":\"c\"}",
                       COMPANION_RECORD_ERROR_UNKNOWN_ENTITY, "entity");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chats\",\"id\":\"c\"}",
                       COMPANION_RECORD_ERROR_UNKNOWN_ENTITY, "entity");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":5,\"id\":\"c\"}", invalid, "entity");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chat\"}", invalid, "id");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chat\",\"id\":null}", invalid, "id");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"bad id\"}", invalid, "id");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chat\",\"id\":7}", invalid, "id");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"" HASH_A "0\"}", invalid, "id");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"media\",\"id\":\"m-1\"}", invalid, "id");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\",\"why\":\"x\"}", invalid, "why");
  assert_change_error ("{\"seq\":1,\"op\":\"delete\",\"entity\":\"chat\",\"id\":\"c\",\"a b\":1}", invalid, NULL);
  assert_change_error (delete_with_record, invalid, "record");
  assert_change_error (with_record, invalid, "id");
  assert_change_error ("{\"seq\":1,\"op\":\"upsert\",\"entity\":\"contact\"}", invalid, "record");
  assert_change_error ("{\"seq\":1,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":null}", invalid, "record");
  assert_change_error ("{\"seq\":1,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":\"c-1\"}", invalid, "record");
  assert_change_error ("{\"seq\":1,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":[]}", invalid, "record");
  assert_change_error ("{\"seq\":1,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":{\"id\":\"c-1\"}}",
                       COMPANION_RECORD_ERROR_MISSING_FIELD, "name");
  assert_change_error ("{\"seq\":1,\"op\":\"upsert\",\"entity\":\"chat\",\"record\":{\"id\":\"c-1\",\"name\":\"A\"}}",
                       COMPANION_RECORD_ERROR_UNKNOWN_FIELD, "name");

  object = parse_object ("{\"seq\":3,\"op\":\"upsert\",\"entity\":\"contact\",\"record\":{\"id\":\"c-1\",\"name\":7}}");
  g_assert_null (companion_change_parse (object, &error));
  g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_FIELD);
  g_assert_cmpstr (error->message, ==, "change 3: contact “c-1”: “name” must be a string");
}

static void
test_export (void)
{
  g_autoptr(CompanionExport) empty = companion_export_new ();
  g_autoptr(CompanionExport) export = companion_export_new ();
  g_autofree char *text = NULL;
  gsize length = 0;
  const struct { CompanionEntity entity; const char *json; } records[] = {
    { COMPANION_ENTITY_CONTACT, "{\"id\":\"c-2\",\"name\":\"Bob\"}" },
    { COMPANION_ENTITY_CONTACT, "{\"id\":\"c-1\",\"name\":\"Ada\"}" },
    { COMPANION_ENTITY_CONTACT, "{\"id\":\"C-3\",\"name\":\"Cy\",\"phone\":\"+1\"}" },
    { COMPANION_ENTITY_MESSAGE, "{\"id\":\"m-9\",\"chat\":\"ch-1\",\"time\":9,\"text\":\"nine\",\"deleted\":false}" },
    { COMPANION_ENTITY_MESSAGE, "{\"id\":\"m-10\",\"chat\":\"ch-1\",\"from\":\"c-1\",\"time\":10,\"text\":\"\","
                                "\"media\":\"" HASH_B "\",\"deleted\":false}" },
    { COMPANION_ENTITY_MEDIA, "{\"hash\":\"" HASH_B "\",\"kind\":\"image\",\"mime\":\"image/png\",\"name\":\"b.png\","
                              "\"size\":2}" },
    { COMPANION_ENTITY_MEDIA, "{\"hash\":\"" HASH_A "\",\"kind\":\"voice\",\"mime\":\"audio/ogg\",\"name\":\"a.ogg\","
                              "\"size\":1,\"duration_ms\":1500}" },
    { COMPANION_ENTITY_CHAT, "{\"id\":\"ch-1\",\"kind\":\"direct\",\"title\":\"\",\"participants\":[\"c-1\"],"
                             "\"unread\":1,\"pinned\":false,\"muted\":false,\"archived\":false}" },
    { COMPANION_ENTITY_CALL, "{\"id\":\"k-1\",\"kind\":\"voice\",\"direction\":\"outgoing\",\"missed\":false,"
                             "\"time\":3,\"duration_s\":4,\"participants\":[\"c-2\"]}" },
    /* The same id again: the last one wins. */
    { COMPANION_ENTITY_CONTACT, "{\"id\":\"c-1\",\"name\":\"Ada L.\"}" },
  };

  text = companion_export_to_string (empty, &length);
  g_assert_cmpstr (text, ==, "{\"calls\":[],\"chats\":[],\"contacts\":[],\"media\":[],\"messages\":[],\"version\":1}\n");
  g_assert_cmpuint (length, ==, strlen (text));
  g_clear_pointer (&text, g_free);

  for (gsize i = 0; i < G_N_ELEMENTS (records); i++)
    {
      g_autoptr(JsonObject) record = parse_object (records[i].json);
      g_autoptr(GError) error = NULL;

      companion_record_validate (records[i].entity, record, &error);
      g_assert_no_error (error);
      companion_export_add (export, records[i].entity, record);
    }

  text = companion_export_to_string (export, &length);
  g_assert_cmpstr (text, ==,
                   "{\"calls\":[{\"direction\":\"outgoing\",\"duration_s\":4,\"id\":\"k-1\",\"kind\":\"voice\","
                   "\"missed\":false,\"participants\":[\"c-2\"],\"time\":3}],"
                   "\"chats\":[{\"archived\":false,\"id\":\"ch-1\",\"kind\":\"direct\",\"muted\":false,"
                   "\"participants\":[\"c-1\"],\"pinned\":false,\"title\":\"\",\"unread\":1}],"
                   "\"contacts\":[{\"id\":\"C-3\",\"name\":\"Cy\",\"phone\":\"+1\"},{\"id\":\"c-1\",\"name\":\"Ada L.\"},"
                   "{\"id\":\"c-2\",\"name\":\"Bob\"}],"
                   "\"media\":[{\"duration_ms\":1500,\"hash\":\"" HASH_A "\",\"kind\":\"voice\",\"mime\":\"audio/ogg\","
                   "\"name\":\"a.ogg\",\"size\":1},{\"hash\":\"" HASH_B "\",\"kind\":\"image\",\"mime\":\"image/png\","
                   "\"name\":\"b.png\",\"size\":2}],"
                   "\"messages\":[{\"chat\":\"ch-1\",\"deleted\":false,\"from\":\"c-1\",\"id\":\"m-10\","
                   "\"media\":\"" HASH_B "\",\"text\":\"\",\"time\":10},"
                   "{\"chat\":\"ch-1\",\"deleted\":false,\"id\":\"m-9\",\"text\":\"nine\",\"time\":9}],"
                   "\"version\":1}\n");
  g_assert_cmpuint (length, ==, strlen (text));

  /* The export is itself canonical JSON. */
  {
    g_autoptr(JsonNode) node = parse (text);
    g_autofree char *again = companion_canonical_json (node, NULL);
    g_autofree char *with_newline = g_strconcat (again, "\n", NULL);

    g_assert_cmpstr (with_newline, ==, text);
  }
}

/* Every field of every entity set to every kind of JSON value: no crash,
 * and an error exactly when validation fails. */
static void
test_wrong_types (void)
{
  static const char *bases[COMPANION_N_ENTITIES] = {
    [COMPANION_ENTITY_CONTACT] = "{\"id\":\"c-1\",\"name\":\"Ada\",\"phone\":\"+1\"}",
    [COMPANION_ENTITY_CHAT] = "{\"id\":\"ch-1\",\"kind\":\"group\",\"title\":\"T\",\"participants\":[\"a\"],"
                              "\"unread\":0,\"pinned\":false,\"muted\":false,\"archived\":false}",
    [COMPANION_ENTITY_MESSAGE] = "{\"id\":\"m-1\",\"chat\":\"ch-1\",\"from\":\"c-1\",\"time\":1,\"text\":\"hi\","
                                 "\"media\":\"" HASH_A "\",\"reply_to\":\"m-0\",\"edited_at\":2,\"deleted\":false,"
                                 "\"reactions\":{\"me\":\"👍\"}}",
    [COMPANION_ENTITY_MEDIA] = "{\"hash\":\"" HASH_A "\",\"kind\":\"video\",\"mime\":\"video/mp4\",\"name\":\"v\","
                               "\"size\":1,\"width\":1,\"height\":1,\"duration_ms\":1}",
    [COMPANION_ENTITY_CALL] = "{\"id\":\"k-1\",\"kind\":\"voice\",\"direction\":\"incoming\",\"missed\":false,"
                              "\"time\":1,\"duration_s\":1,\"participants\":[\"a\"]}",
  };
  static const char *values[] = {
    "null", "true", "false", "0", "-1", "1.5", "1e300", "\"\"", "\"x\"", "[]", "[1,[2,[3]]]", "{}",
    "{\"a\":{\"b\":[]}}", "9223372036854775807", "-9223372036854775808",
  };

  for (guint entity = 0; entity < COMPANION_N_ENTITIES; entity++)
    {
      g_autoptr(JsonObject) base = parse_object (bases[entity]);
      GList *names = json_object_get_members (base);

      for (GList *l = names; l != NULL; l = l->next)
        for (gsize v = 0; v < G_N_ELEMENTS (values); v++)
          {
            g_autofree char *patch = g_strdup_printf ("{\"%s\":%s}", (const char *) l->data, values[v]);
            g_autoptr(JsonObject) record = patched (bases[entity], patch);
            g_autoptr(GError) error = NULL;
            gboolean valid = companion_record_validate (entity, record, &error);

            g_assert_true (valid == (error == NULL));
            if (error != NULL)
              g_assert_true (g_str_has_prefix (error->message, companion_entity_to_string (entity)));
          }
      g_list_free (names);
    }
}

static void
test_hostile (void)
{
  gint64 start, validating = 0;
  g_autoptr(GString) deep = g_string_new ("{\"id\":\"c-1\",\"name\":");
  g_autofree char *long_name = NULL;

  /* Deep nesting where a string belongs. */
  for (guint i = 0; i < 500; i++)
    g_string_append (deep, "[{\"a\":");
  g_string_append (deep, "1");
  for (guint i = 0; i < 500; i++)
    g_string_append (deep, "}]");
  g_string_append (deep, "}");
  {
    g_autoptr(JsonObject) record = parse_object (deep->str);
    g_autoptr(GError) error = NULL;

    g_assert_false (companion_record_validate (COMPANION_ENTITY_CONTACT, record, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_FIELD);
  }

  /* 100 000-element arrays and objects. */
  {
    g_autoptr(JsonObject) chat = parse_object ("{\"id\":\"ch-1\",\"kind\":\"group\",\"title\":\"T\",\"unread\":0,"
                                               "\"pinned\":false,\"muted\":false,\"archived\":false}");
    g_autoptr(JsonObject) contact = parse_object ("{\"id\":\"c-1\"}");
    g_autoptr(JsonObject) message = parse_object ("{\"id\":\"m-1\",\"chat\":\"ch-1\",\"time\":1,\"text\":\"x\","
                                                  "\"deleted\":false}");
    g_autoptr(JsonObject) wide = json_object_new ();
    JsonArray *participants = json_array_new ();
    JsonArray *names = json_array_new ();
    JsonObject *reactions = json_object_new ();
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < 100000; i++)
      {
        g_autofree char *id = g_strdup_printf ("p%06u", i);

        json_array_add_string_element (participants, id);
        json_array_add_string_element (names, id);
        json_object_set_string_member (reactions, id, "👍");
        json_object_set_int_member (wide, id, i);
      }
    json_object_set_array_member (chat, "participants", participants);
    json_object_set_array_member (contact, "name", names);
    json_object_set_object_member (message, "reactions", reactions);
    json_object_set_string_member (wide, "id", "c-1");
    json_object_set_string_member (wide, "name", "x");

    /* Building those takes a while under the sanitizers; refusing them must not. */
    start = g_get_monotonic_time ();
    g_assert_false (companion_record_validate (COMPANION_ENTITY_CHAT, chat, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_TOO_LARGE);
    g_clear_error (&error);
    g_assert_false (companion_record_validate (COMPANION_ENTITY_CONTACT, contact, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_FIELD);
    g_clear_error (&error);
    g_assert_false (companion_record_validate (COMPANION_ENTITY_MESSAGE, message, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_TOO_LARGE);
    g_clear_error (&error);
    /* 100 000 unknown fields: the first one ends it. */
    g_assert_false (companion_record_validate (COMPANION_ENTITY_CONTACT, wide, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_UNKNOWN_FIELD);
    g_clear_error (&error);
    validating = g_get_monotonic_time () - start;
  }

  /* A hostile field name is not echoed. */
  long_name = g_strnfill (10000, 'x');
  {
    g_autoptr(JsonObject) record = parse_object ("{\"id\":\"c-1\",\"name\":\"A\"}");
    g_autoptr(GError) error = NULL;

    json_object_set_int_member (record, long_name, 1);
    json_object_set_int_member (record, "\xe2\x80\xae\n", 1);
    g_assert_false (companion_record_validate (COMPANION_ENTITY_CONTACT, record, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_UNKNOWN_FIELD);
    g_assert_cmpuint (strlen (error->message), <, 200);
  }

  /* Invalid UTF-8 in a string set by code rather than by the parser. */
  {
    g_autoptr(JsonObject) record = parse_object ("{\"id\":\"c-1\"}");
    g_autoptr(GError) error = NULL;

    json_object_set_string_member (record, "name", "bad \xc3\x28");
    g_assert_false (companion_record_validate (COMPANION_ENTITY_CONTACT, record, &error));
    g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_INVALID_FIELD);
    g_assert_nonnull (strstr (error->message, "“name”"));
  }

  g_assert_cmpint (validating, <, G_USEC_PER_SEC);
}

/* Strings from a peer's JSON: anything but a string is NULL, never a
 * critical (found by fuzzing: fuzz/corpus/record). */
static void
test_json_get_string (void)
{
  g_autoptr(JsonObject) object = parse_object ("{\"s\":\"text\",\"n\":5,\"z\":null,\"o\":{},\"a\":[\"x\"]}");

  g_assert_cmpstr (companion_json_get_string (object, "s"), ==, "text");
  g_assert_null (companion_json_get_string (object, "n"));
  g_assert_null (companion_json_get_string (object, "z"));
  g_assert_null (companion_json_get_string (object, "o"));
  g_assert_null (companion_json_get_string (object, "a"));
  g_assert_null (companion_json_get_string (object, "absent"));
  g_assert_cmpstr (companion_json_get_string_or (object, "s", "fallback"), ==, "text");
  g_assert_cmpstr (companion_json_get_string_or (object, "o", "fallback"), ==, "fallback");
  g_assert_cmpstr (companion_json_get_string_or (object, "n", "fallback"), ==, "fallback");
}

static void
test_json_get_int (void)
{
  g_autoptr(JsonObject) object = parse_object ("{\"n\":-5,\"big\":9007199254740993,\"f\":1.5,\"s\":\"7\","
                                               "\"b\":true,\"z\":null,\"o\":{},\"a\":[1]}");

  g_assert_cmpint (companion_json_get_int (object, "n", 0), ==, -5);
  g_assert_cmpint (companion_json_get_int (object, "big", 0), ==, G_GINT64_CONSTANT (9007199254740993));
  for (guint i = 0; i < 7; i++)
    {
      const char *other[] = { "f", "s", "b", "z", "o", "a", "absent" };

      g_assert_cmpint (companion_json_get_int (object, other[i], -1), ==, -1);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_true (companion_core_init (NULL));

  g_test_add_func ("/record/entity-names", test_entity_names);
  g_test_add_func ("/record/valid", test_valid_records);
  g_test_add_func ("/record/error-message", test_error_message);
  g_test_add_func ("/record/contact", test_contact_rules);
  g_test_add_func ("/record/chat", test_chat_rules);
  g_test_add_func ("/record/message", test_message_rules);
  g_test_add_func ("/record/media", test_media_rules);
  g_test_add_func ("/record/call", test_call_rules);
  g_test_add_func ("/record/canonical", test_canonical);
  g_test_add_func ("/record/canonical-deep", test_canonical_deep);
  g_test_add_func ("/record/change/round-trip", test_change_round_trip);
  g_test_add_func ("/record/change/malformed", test_change_malformed);
  g_test_add_func ("/record/export", test_export);
  g_test_add_func ("/record/wrong-types", test_wrong_types);
  g_test_add_func ("/record/hostile", test_hostile);
  g_test_add_func ("/record/json-get-string", test_json_get_string);
  g_test_add_func ("/record/json-get-int", test_json_get_int);

  return g_test_run ();
}
