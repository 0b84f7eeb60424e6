/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-session-protocol"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-network.h"
#include "companion-pairing-payload.h"
#include "companion-record.h"
#include "companion-session-protocol.h"

G_DEFINE_QUARK (companion-protocol-error-quark, companion_protocol_error)

#define PAIR_PROLOGUE    "companion/1 pair"
#define SESSION_PROLOGUE "companion/1 session"

GBytes *
companion_pairing_prologue (CompanionPairingPayload *payload)
{
  g_autofree char *text = companion_pairing_payload_to_string (payload);
  gsize label = strlen (PAIR_PROLOGUE);
  guint8 *prologue = g_malloc (label + 32);

  memcpy (prologue, PAIR_PROLOGUE, label);
  crypto_generichash (prologue + label, 32, (const guint8 *) text, strlen (text), NULL, 0);
  sodium_memzero (text, strlen (text));
  return g_bytes_new_take (prologue, label + 32);
}

GBytes *
companion_session_prologue (void)
{
  return g_bytes_new_static (SESSION_PROLOGUE, strlen (SESSION_PROLOGUE));
}

static gboolean
check_type (JsonObject *record,
            const char *expected,
            GError    **error)
{
  const char *type = companion_json_get_string (record, "type");

  if (type == NULL)
    type = "";

  if (!g_str_equal (type, expected))
    {
      g_set_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_UNEXPECTED_RECORD,
                   "Expected a “%s” record, got “%.32s”", expected, type);
      return FALSE;
    }
  return TRUE;
}

/* A device name: a string of 1 to 64 bytes of UTF-8 with no control
 * characters, so it is safe to show and to log. */
static char *
get_name (JsonObject *record,
          GError    **error)
{
  JsonNode *node = json_object_get_member (record, "name");
  const char *name;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error_literal (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_MISSING_FIELD,
                           "The record has no “name” string");
      return NULL;
    }
  name = json_node_get_string (node);
  if (*name == '\0' || strlen (name) > COMPANION_MAX_NAME_LENGTH || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                   "The device name must be 1 to %u bytes of UTF-8", COMPANION_MAX_NAME_LENGTH);
      return NULL;
    }
  for (const char *p = name; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      {
        g_set_error_literal (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                             "The device name has control characters");
        return NULL;
      }
  return g_strdup (name);
}

static GStrv
get_addresses (JsonObject *record,
               GError    **error)
{
  JsonNode *node = json_object_get_member (record, "addresses");
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  JsonArray *array;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    {
      g_set_error_literal (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_MISSING_FIELD,
                           "The record has no “addresses” list");
      return NULL;
    }
  array = json_node_get_array (node);
  if (json_array_get_length (array) > COMPANION_MAX_ADDRESSES)
    {
      g_set_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                   "The record lists more than %u addresses", COMPANION_MAX_ADDRESSES);
      return NULL;
    }
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      g_autoptr(GInetSocketAddress) parsed = NULL;

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING ||
          (parsed = companion_network_parse_listen_address (json_node_get_string (item), NULL)) == NULL ||
          g_inet_socket_address_get_port (parsed) == 0)
        {
          g_set_error (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                       "Address %u in the record is not ADDR:PORT", i + 1);
          return NULL;
        }
      g_strv_builder_add (builder, json_node_get_string (item));
    }
  return g_strv_builder_end (builder);
}

static void
set_addresses (JsonObject *record,
               GPtrArray  *addresses)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < addresses->len && i < COMPANION_MAX_ADDRESSES; i++)
    {
      g_autofree char *text = companion_network_address_to_string (g_ptr_array_index (addresses, i));
      json_array_add_string_element (array, text);
    }
  json_object_set_array_member (record, "addresses", array);
}

/* Host names may be long or odd: cut to the limit on a character boundary. */
static char *
clean_name (const char *name)
{
  g_autofree char *valid = g_utf8_make_valid (name != NULL && *name ? name : "Companion", -1);
  GString *out = g_string_new (NULL);

  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (g_unichar_iscntrl (c))
        continue;
      if (out->len + g_unichar_to_utf8 (c, NULL) > COMPANION_MAX_NAME_LENGTH)
        break;
      g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

JsonObject *
companion_session_record_confirm (const char *phone_name)
{
  JsonObject *record = json_object_new ();
  g_autofree char *name = clean_name (phone_name);

  json_object_set_string_member (record, "type", "confirm");
  json_object_set_string_member (record, "name", name);
  return record;
}

char *
companion_session_record_parse_confirm (JsonObject *record,
                                        GError    **error)
{
  if (!check_type (record, "confirm", error))
    return NULL;
  return get_name (record, error);
}

JsonObject *
companion_session_record_welcome (const guint8 *desktop_key,
                                  const char   *desktop_name,
                                  GPtrArray    *addresses)
{
  JsonObject *record = companion_session_record_hello (desktop_name, addresses);
  g_autofree char *key = g_base64_encode (desktop_key, 32);

  json_object_set_string_member (record, "type", "welcome");
  json_object_set_string_member (record, "identity", key);
  return record;
}

gboolean
companion_session_record_parse_welcome (JsonObject *record,
                                        guint8     *desktop_key_out,
                                        char      **desktop_name_out,
                                        GStrv      *addresses_out,
                                        GError    **error)
{
  const char *key_text;
  g_autofree guint8 *key = NULL;
  gsize key_len = 0;

  if (!check_type (record, "welcome", error))
    return FALSE;
  key_text = companion_json_get_string (record, "identity");
  if (key_text == NULL || strlen (key_text) != 44 ||
      (key = g_base64_decode (key_text, &key_len)) == NULL || key_len != 32 ||
      sodium_is_zero (key, 32))
    {
      g_set_error_literal (error, COMPANION_PROTOCOL_ERROR, COMPANION_PROTOCOL_ERROR_INVALID_FIELD,
                           "The welcome record has no valid “identity” key");
      return FALSE;
    }
  if (!companion_session_record_parse_hello (record, desktop_name_out, addresses_out, error))
    return FALSE;
  memcpy (desktop_key_out, key, 32);
  return TRUE;
}

JsonObject *
companion_session_record_hello (const char *desktop_name,
                                GPtrArray  *addresses)
{
  JsonObject *record = json_object_new ();
  g_autofree char *name = clean_name (desktop_name);

  json_object_set_string_member (record, "type", "hello");
  json_object_set_string_member (record, "name", name);
  set_addresses (record, addresses);
  return record;
}

gboolean
companion_session_record_parse_hello (JsonObject *record,
                                      char      **desktop_name_out,
                                      GStrv      *addresses_out,
                                      GError    **error)
{
  g_autofree char *name = get_name (record, error);
  g_auto(GStrv) addresses = NULL;

  if (name == NULL)
    return FALSE;
  addresses = get_addresses (record, error);
  if (addresses == NULL)
    return FALSE;
  *desktop_name_out = g_steal_pointer (&name);
  *addresses_out = g_steal_pointer (&addresses);
  return TRUE;
}
