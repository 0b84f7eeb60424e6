/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Limits at their edge: exactly at the cap is accepted, one past it is
 * refused with a clear error. The caps tested elsewhere are listed in
 * docs/protocol.md ("Limits"); these are the ones no other test reached.
 */
#include "config.h"

#include <string.h>

#include "companion-core.h"
#include "companion-record.h"
#include "companion-session-protocol.h"

#include "test-util.h"

/* A name of exactly LEN bytes, of two-byte characters where it can. */
static char *
name_of (gsize len)
{
  GString *name = g_string_new (NULL);

  while (name->len + 2 <= len)
    g_string_append (name, "é");
  while (name->len < len)
    g_string_append_c (name, 'n');
  return g_string_free (name, FALSE);
}

static JsonObject *
record_with_name (const char *type,
                  const char *name,
                  guint       n_addresses)
{
  JsonObject *record = json_object_new ();
  JsonArray *addresses = json_array_new ();

  json_object_set_string_member (record, "type", type);
  json_object_set_string_member (record, "name", name);
  for (guint i = 0; i < n_addresses; i++)
    {
      g_autofree char *address = g_strdup_printf ("192.168.1.%u:47390", i + 1);
      json_array_add_string_element (addresses, address);
    }
  json_object_set_array_member (record, "addresses", addresses);
  return record;
}

static void
test_names (void)
{
  g_autofree char *at_cap = name_of (COMPANION_MAX_NAME_LENGTH);
  g_autofree char *past_cap = name_of (COMPANION_MAX_NAME_LENGTH + 1);
  const char *types[] = { "confirm", "hello" };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr(JsonObject) ok = record_with_name (types[i], at_cap, 1);
      g_autoptr(JsonObject) long_name = record_with_name (types[i], past_cap, 1);
      g_autoptr(GError) error = NULL;
      g_autofree char *name = NULL;
      g_auto(GStrv) addresses = NULL;

      if (i == 0)
        name = companion_session_record_parse_confirm (ok, &error);
      else
        companion_session_record_parse_hello (ok, &name, &addresses, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (name, ==, at_cap);
      g_clear_pointer (&name, g_free);
      g_clear_pointer (&addresses, g_strfreev);

      if (i == 0)
        name = companion_session_record_parse_confirm (long_name, &error);
      else
        g_assert_false (companion_session_record_parse_hello (long_name, &name, &addresses, &error));
      g_assert_null (name);
      g_assert_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD);
      g_assert_nonnull (strstr (error->message, "1 to 64 bytes"));
    }

  /* What a program sends is cut to the cap on a character boundary. */
  {
    g_autofree char *long_host = name_of (COMPANION_MAX_NAME_LENGTH + 1);
    g_autoptr(JsonObject) confirm = companion_session_record_confirm (long_host);
    const char *sent = json_object_get_string_member (confirm, "name");

    g_assert_cmpuint (strlen (sent), ==, COMPANION_MAX_NAME_LENGTH);
    g_assert_true (g_utf8_validate (sent, -1, NULL));
  }
}

static void
test_addresses (void)
{
  g_autoptr(JsonObject) at_cap = record_with_name ("hello", "Desk", COMPANION_MAX_ADDRESSES);
  g_autoptr(JsonObject) past_cap = record_with_name ("hello", "Desk", COMPANION_MAX_ADDRESSES + 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;
  g_auto(GStrv) addresses = NULL;

  g_assert_true (companion_session_record_parse_hello (at_cap, &name, &addresses, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (addresses), ==, COMPANION_MAX_ADDRESSES);
  g_clear_pointer (&name, g_free);
  g_clear_pointer (&addresses, g_strfreev);

  g_assert_false (companion_session_record_parse_hello (past_cap, &name, &addresses, &error));
  g_assert_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD);
  g_assert_nonnull (strstr (error->message, "more than 4 addresses"));
}

/* Each rule of the session records, one bad value at a time: the parser
 * refuses it with the field named, and the good record still parses. */
static void
test_session_records (void)
{
  static const char good_key[] = "\"identity\": \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"";
  static const char zero_key[] = "\"identity\": \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"";
  static const char good_rest[] = "\"name\": \"Desk\", \"addresses\": [\"192.168.1.2:47390\"]";
  const struct
  {
    const char *type;
    const char *fields;   /* after "type" */
    int         code;
    const char *says;
  } cases[] = {
    { "confirm", "\"name\": \"Phone\"", -1, NULL },
    { "confirm", "", COMPANION_PROTOCOL_ERROR_MISSING_FIELD, "“name”" },
    { "confirm", "\"name\": 5", COMPANION_PROTOCOL_ERROR_MISSING_FIELD, "“name”" },
    { "confirm", "\"name\": {}", COMPANION_PROTOCOL_ERROR_MISSING_FIELD, "“name”" },
    { "confirm", "\"name\": \"\"", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "1 to 64 bytes" },
    { "confirm", "\"name\": \"a\\u0007b\"", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "control characters" },
    { "confirm", "\"name\": \"a\\u0085b\"", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "control characters" },
    { "hello", good_rest, -1, NULL },
    { "hello", "\"name\": \"Desk\"", COMPANION_PROTOCOL_ERROR_MISSING_FIELD, "“addresses”" },
    { "hello", "\"name\": \"Desk\", \"addresses\": \"192.168.1.2:47390\"",
      COMPANION_PROTOCOL_ERROR_MISSING_FIELD, "“addresses”" },
    { "hello", "\"name\": \"Desk\", \"addresses\": [5]", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "ADDR:PORT" },
    { "hello", "\"name\": \"Desk\", \"addresses\": [\"nowhere\"]", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "ADDR:PORT" },
    { "hello", "\"name\": \"Desk\", \"addresses\": [\"192.168.1.2:0\"]", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "ADDR:PORT" },
    { "hello", "\"name\": \"Desk\", \"addresses\": [[]]", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "ADDR:PORT" },
    { "welcome", NULL, -1, NULL },  /* good_key, good_rest */
    { "welcome", good_rest, COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "“identity”" },
    { "welcome", "\"identity\": 7", COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "“identity”" },
    { "welcome", "\"identity\": \"not base64 at all, but 44 chars long!!!!!!!\"",
      COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "“identity”" },
    { "welcome", "\"identity\": \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHw==\"",
      COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "“identity”" },
    { "welcome", zero_key, COMPANION_PROTOCOL_ERROR_INVALID_FIELD, "“identity”" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = NULL;
      g_autoptr(JsonObject) record = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *name = NULL;
      g_auto(GStrv) addresses = NULL;
      guint8 key[32];
      gboolean ok;

      if (cases[i].fields == NULL)
        text = g_strdup_printf ("{\"type\": \"%s\", %s, %s}", cases[i].type, good_key, good_rest);
      else if (g_str_equal (cases[i].type, "welcome") && strstr (cases[i].fields, "identity") != NULL)
        text = g_strdup_printf ("{\"type\": \"%s\", %s, %s}", cases[i].type, cases[i].fields, good_rest);
      else
        text = g_strdup_printf ("{\"type\": \"%s\"%s%s}", cases[i].type, *cases[i].fields ? ", " : "",
                                cases[i].fields);
      record = test_util_json_object (text);
      if (g_str_equal (cases[i].type, "confirm"))
        ok = (name = companion_session_record_parse_confirm (record, &error)) != NULL;
      else if (g_str_equal (cases[i].type, "hello"))
        ok = companion_session_record_parse_hello (record, &name, &addresses, &error);
      else
        ok = companion_session_record_parse_welcome (record, key, &name, &addresses, &error);

      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          continue;
        }
      g_test_message ("%s", text);
      g_assert_false (ok);
      g_assert_error (error, COMPANION_PROTOCOL_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, cases[i].says));
    }

  /* A record of another type is refused as such. */
  {
    g_autoptr(JsonObject) hello = test_util_json_object ("{\"type\": \"hello\", \"name\": \"Desk\", \"addresses\": []}");
    g_autoptr(GError) error = NULL;
    g_autofree char *name = companion_session_record_parse_confirm (hello, &error);

    g_assert_null (name);
    g_assert_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_UNEXPECTED_RECORD);
  }
}

/* A message whose canonical JSON is exactly SIZE bytes: its text mixes
 * control characters (six bytes each once escaped) and letters, so the
 * text stays under its own 48 KiB limit. */
static JsonObject *
message_of_size (gsize size)
{
  JsonObject *record = json_object_new ();
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *empty = NULL;
  GString *text = g_string_new (NULL);
  gsize base = 0, rest, letters;

  json_object_set_string_member (record, "id", "m-1");
  json_object_set_string_member (record, "chat", "ch-1");
  json_object_set_int_member (record, "time", 1700000000000);
  json_object_set_boolean_member (record, "deleted", FALSE);
  json_object_set_string_member (record, "text", "");
  json_node_set_object (node, record);
  empty = companion_canonical_json (node, &base);
  g_assert_cmpuint (size, >, base + 6);

  rest = size - base;
  letters = rest % 6;
  for (gsize i = 0; i < rest / 6; i++)
    g_string_append_c (text, '\x01');
  for (gsize i = 0; i < letters; i++)
    g_string_append_c (text, 't');
  json_object_set_string_member (record, "text", text->str);
  g_string_free (text, TRUE);
  return record;
}

static void
test_record_size (void)
{
  for (gsize extra = 0; extra <= 1; extra++)
    {
      g_autoptr(JsonObject) record = message_of_size (COMPANION_RECORD_MAX_SIZE + extra);
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *canonical = NULL;
      g_autoptr(GError) error = NULL;
      gsize len = 0;

      json_node_set_object (node, record);
      canonical = companion_canonical_json (node, &len);
      g_assert_cmpuint (len, ==, COMPANION_RECORD_MAX_SIZE + extra);
      if (extra == 0)
        {
          g_assert_true (companion_record_validate (COMPANION_ENTITY_MESSAGE, record, &error));
          g_assert_no_error (error);
        }
      else
        {
          g_assert_false (companion_record_validate (COMPANION_ENTITY_MESSAGE, record, &error));
          g_assert_error (error, COMPANION_RECORD_ERROR, COMPANION_RECORD_ERROR_TOO_LARGE);
          g_test_message ("%s", error->message);
        }
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/limits/names", test_names);
  g_test_add_func ("/limits/addresses", test_addresses);
  g_test_add_func ("/limits/session-records", test_session_records);
  g_test_add_func ("/limits/record-size", test_record_size);

  return g_test_run ();
}
