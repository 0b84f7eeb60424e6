/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * noise-vectors FILE.json [FILE.json...]
 *
 * Runs Noise test vectors in the cacophony/snow JSON format
 * ({"vectors": [{protocol_name, init_*, resp_*, handshake_hash?, messages}]},
 * plus flynn's "transport_first_sender") against CompanionNoiseHandshake and
 * CompanionNoiseCipher: every handshake and transport message byte for byte,
 * and the handshake hash when the vector has one.  Protocols we do not
 * implement are skipped.  Prints one line per failing vector, then
 * "N passed, N failed, N skipped"; exits 1 on any failure or on a file
 * that cannot be read or parsed, 2 on bad usage.
 */
#define G_LOG_DOMAIN "noise-vectors"

#include "config.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#include "companion-noise-cipher.h"
#include "companion-noise.h"

typedef struct
{
  guint passed;
  guint failed;
  guint skipped;
} Counts;

static gboolean
parse_hex (const char  *hex,
           GByteArray  *out)
{
  gsize len = strlen (hex);

  if (len % 2 != 0)
    return FALSE;

  for (gsize i = 0; i < len; i += 2)
    {
      int hi = g_ascii_xdigit_value (hex[i]);
      int lo = g_ascii_xdigit_value (hex[i + 1]);
      guint8 byte;

      if (hi < 0 || lo < 0)
        return FALSE;
      byte = (guint8) (hi << 4 | lo);
      g_byte_array_append (out, &byte, 1);
    }

  return TRUE;
}

/* A string member, or NULL when absent or not a string. */
static const char *
get_string (JsonObject *obj,
            const char *member)
{
  JsonNode *node = json_object_get_member (obj, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

/* A hex string node named @what; NULL (absent), null and "" all give an
 * empty array. */
static GByteArray *
hex_node (JsonNode    *node,
          const char  *what,
          GError     **error)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return g_steal_pointer (&bytes);

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "field '%s' is not a string", what);
      return NULL;
    }

  if (!parse_hex (json_node_get_string (node), bytes))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "field '%s' is not valid hex", what);
      return NULL;
    }

  return g_steal_pointer (&bytes);
}

static GByteArray *
get_hex (JsonObject  *obj,
         const char  *member,
         GError     **error)
{
  return hex_node (json_object_get_member (obj, member), member, error);
}

/* A 32-byte key; *present is FALSE when the node is absent or empty. */
static gboolean
key_node (JsonNode    *node,
          const char  *what,
          guint8       key[COMPANION_NOISE_KEY_LEN],
          gboolean    *present,
          GError     **error)
{
  g_autoptr(GByteArray) bytes = hex_node (node, what, error);

  if (bytes == NULL)
    return FALSE;

  *present = bytes->len > 0;
  if (!*present)
    return TRUE;

  if (bytes->len != COMPANION_NOISE_KEY_LEN)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "field '%s' is %u bytes, expected %d", what, bytes->len,
                   COMPANION_NOISE_KEY_LEN);
      return FALSE;
    }

  memcpy (key, bytes->data, COMPANION_NOISE_KEY_LEN);
  return TRUE;
}

static gboolean
get_key (JsonObject  *obj,
         const char  *member,
         guint8       key[COMPANION_NOISE_KEY_LEN],
         gboolean    *present,
         GError     **error)
{
  return key_node (json_object_get_member (obj, member), member, key, present, error);
}

/* Sets up one side from the vector's "init_" or "resp_" fields. */
static gboolean
configure (CompanionNoiseHandshake  *hs,
           JsonObject               *v,
           const char               *prefix,
           GError                  **error)
{
  g_autofree char *prologue_name = g_strconcat (prefix, "prologue", NULL);
  g_autofree char *psks_name = g_strconcat (prefix, "psks", NULL);
  g_autofree char *static_name = g_strconcat (prefix, "static", NULL);
  g_autofree char *ephemeral_name = g_strconcat (prefix, "ephemeral", NULL);
  g_autofree char *remote_name = g_strconcat (prefix, "remote_static", NULL);
  g_autoptr(GByteArray) prologue = NULL;
  guint8 key[COMPANION_NOISE_KEY_LEN];
  gboolean present;

  if (!(prologue = get_hex (v, prologue_name, error)))
    return FALSE;
  companion_noise_handshake_set_prologue (hs, prologue->data, prologue->len);

  if (json_object_has_member (v, psks_name))
    {
      JsonNode *node = json_object_get_member (v, psks_name);
      JsonArray *psks;

      if (!JSON_NODE_HOLDS_ARRAY (node))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "field '%s' is not an array", psks_name);
          return FALSE;
        }
      psks = json_node_get_array (node);
      if (json_array_get_length (psks) > 1)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "field '%s' has %u psks; the patterns implemented use one",
                       psks_name, json_array_get_length (psks));
          return FALSE;
        }
      if (json_array_get_length (psks) == 1)
        {
          if (!key_node (json_array_get_element (psks, 0), psks_name, key, &present, error))
            return FALSE;
          if (present)
            companion_noise_handshake_set_psk (hs, key);
        }
    }

  if (!get_key (v, static_name, key, &present, error))
    return FALSE;
  if (present)
    companion_noise_handshake_set_local_static (hs, key);

  if (!get_key (v, ephemeral_name, key, &present, error))
    return FALSE;
  if (present)
    companion_noise_handshake_set_fixed_ephemeral (hs, key);

  if (!get_key (v, remote_name, key, &present, error))
    return FALSE;
  if (present)
    companion_noise_handshake_set_remote_static (hs, key);

  sodium_memzero (key, sizeof key);
  return TRUE;
}

static gboolean
arrays_equal (GByteArray *a,
              GByteArray *b)
{
  return a->len == b->len && (a->len == 0 || memcmp (a->data, b->data, a->len) == 0);
}

static gboolean
bytes_equal (GBytes     *bytes,
             GByteArray *array)
{
  gsize bytes_len = 0;
  const guint8 *bytes_data = g_bytes_get_data (bytes, &bytes_len);

  return bytes_len == array->len &&
         (bytes_len == 0 || memcmp (bytes_data, array->data, bytes_len) == 0);
}

/* Runs one vector.  Returns FALSE and sets @error (with @failed_message set
 * to the message index, or -1) when it fails. */
static gboolean
run_vector (JsonObject  *v,
            int         *failed_message,
            GError     **error)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(CompanionNoiseCipher) init_send = NULL;
  g_autoptr(CompanionNoiseCipher) init_recv = NULL;
  g_autoptr(CompanionNoiseCipher) resp_send = NULL;
  g_autoptr(CompanionNoiseCipher) resp_recv = NULL;
  g_autoptr(GByteArray) handshake_hash = NULL;
  const char *protocol_name = get_string (v, "protocol_name");
  const char *first_sender = "alternate";
  JsonArray *messages;
  guint n_handshake = 0;

  *failed_message = -1;

  initiator = companion_noise_handshake_new_from_name (protocol_name,
                                                       COMPANION_NOISE_ROLE_INITIATOR, error);
  if (initiator == NULL)
    return FALSE;
  responder = companion_noise_handshake_new_from_name (protocol_name,
                                                       COMPANION_NOISE_ROLE_RESPONDER, error);
  if (responder == NULL)
    return FALSE;

  if (!configure (initiator, v, "init_", error) ||
      !configure (responder, v, "resp_", error))
    return FALSE;

  if (!(handshake_hash = get_hex (v, "handshake_hash", error)))
    return FALSE;

  if (json_object_has_member (v, "transport_first_sender"))
    {
      first_sender = get_string (v, "transport_first_sender");
      if (g_strcmp0 (first_sender, "initiator") != 0 && g_strcmp0 (first_sender, "responder") != 0)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "field 'transport_first_sender' is neither 'initiator' "
                               "nor 'responder'");
          return FALSE;
        }
    }

  if (!json_object_has_member (v, "messages") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (v, "messages")))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "field 'messages' is missing or not an array");
      return FALSE;
    }
  messages = json_object_get_array_member (v, "messages");

  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonNode *node = json_array_get_element (messages, i);
      g_autoptr(GByteArray) payload = NULL;
      g_autoptr(GByteArray) ciphertext = NULL;
      g_autoptr(GByteArray) written = g_byte_array_new ();
      g_autoptr(GByteArray) read = g_byte_array_new ();
      gboolean from_initiator;

      *failed_message = i;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not an object");
          return FALSE;
        }
      if (!(payload = get_hex (json_node_get_object (node), "payload", error)) ||
          !(ciphertext = get_hex (json_node_get_object (node), "ciphertext", error)))
        return FALSE;

      if (!companion_noise_handshake_is_finished (initiator))
        {
          CompanionNoiseHandshake *writer, *reader;

          from_initiator = i % 2 == 0;
          writer = from_initiator ? initiator : responder;
          reader = from_initiator ? responder : initiator;

          if (!companion_noise_handshake_write_message (writer, payload->data, payload->len,
                                                        written, error))
            {
              g_prefix_error (error, "write: ");
              return FALSE;
            }
          if (!arrays_equal (written, ciphertext))
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                   "handshake message differs from the expected ciphertext");
              return FALSE;
            }
          if (!companion_noise_handshake_read_message (reader, ciphertext->data, ciphertext->len,
                                                       read, error))
            {
              g_prefix_error (error, "read: ");
              return FALSE;
            }
          if (!arrays_equal (read, payload))
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                   "handshake payload read differs from the one written");
              return FALSE;
            }

          n_handshake = i + 1;
          if (companion_noise_handshake_is_finished (initiator) !=
              companion_noise_handshake_is_finished (responder))
            {
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                   "one side finished the handshake before the other");
              return FALSE;
            }

          if (companion_noise_handshake_is_finished (initiator))
            {
              g_autoptr(GBytes) init_hash = NULL;
              g_autoptr(GBytes) resp_hash = NULL;

              init_hash = companion_noise_handshake_get_handshake_hash (initiator);
              resp_hash = companion_noise_handshake_get_handshake_hash (responder);

              if (!g_bytes_equal (init_hash, resp_hash))
                {
                  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                       "the two sides' handshake hashes differ");
                  return FALSE;
                }
              if (handshake_hash->len > 0 &&
                  !bytes_equal (init_hash, handshake_hash))
                {
                  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                                       "handshake hash differs from the expected one");
                  return FALSE;
                }
              if (!companion_noise_handshake_split (initiator, &init_send, &init_recv, error) ||
                  !companion_noise_handshake_split (responder, &resp_send, &resp_recv, error))
                return FALSE;
            }
          continue;
        }

      /* Transport messages. */
      if (g_strcmp0 (first_sender, "alternate") == 0)
        from_initiator = i % 2 == 0;
      else
        from_initiator = ((i - n_handshake) % 2 == 0) ==
                         (g_strcmp0 (first_sender, "initiator") == 0);

      if (!companion_noise_cipher_encrypt (from_initiator ? init_send : resp_send,
                                           payload->data, payload->len, written, error))
        {
          g_prefix_error (error, "encrypt: ");
          return FALSE;
        }
      if (!arrays_equal (written, ciphertext))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                               "transport message differs from the expected ciphertext");
          return FALSE;
        }
      if (!companion_noise_cipher_decrypt (from_initiator ? resp_recv : init_recv,
                                           ciphertext->data, ciphertext->len, read, error))
        {
          g_prefix_error (error, "decrypt: ");
          return FALSE;
        }
      if (!arrays_equal (read, payload))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                               "transport payload decrypted differs from the one encrypted");
          return FALSE;
        }
    }

  *failed_message = -1;

  if (!companion_noise_handshake_is_finished (initiator))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "the vector ends before the handshake finished");
      return FALSE;
    }

  return TRUE;
}

static gboolean
run_file (const char  *filename,
          Counts      *counts,
          GError     **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *basename = g_path_get_basename (filename);
  JsonNode *root;
  JsonNode *vectors_node;
  JsonArray *vectors;
  Counts file_counts = { 0 };

  if (!json_parser_load_from_file (parser, filename, error))
    return FALSE;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root) ||
      !(vectors_node = json_object_get_member (json_node_get_object (root), "vectors")) ||
      !JSON_NODE_HOLDS_ARRAY (vectors_node))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "not a test vector file: expected an object with a 'vectors' array");
      return FALSE;
    }

  vectors = json_node_get_array (vectors_node);
  for (guint i = 0; i < json_array_get_length (vectors); i++)
    {
      JsonNode *node = json_array_get_element (vectors, i);
      g_autoptr(GError) local_error = NULL;
      const char *protocol_name = NULL;
      int failed_message = -1;
      JsonObject *v;

      if (!JSON_NODE_HOLDS_OBJECT (node) ||
          !(protocol_name = get_string ((v = json_node_get_object (node)), "protocol_name")))
        {
          g_print ("FAIL %s vectors[%u]: not an object with a 'protocol_name' string\n",
                   basename, i);
          file_counts.failed++;
          continue;
        }

      if (run_vector (v, &failed_message, &local_error))
        {
          file_counts.passed++;
        }
      else if (g_error_matches (local_error, COMPANION_NOISE_ERROR,
                                COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL))
        {
          file_counts.skipped++;
        }
      else
        {
          g_autofree char *where = NULL;

          if (failed_message >= 0)
            where = g_strdup_printf (" message %d", failed_message);
          g_print ("FAIL %s vectors[%u] %s%s: %s\n", basename, i, protocol_name,
                   where ? where : "", local_error->message);
          file_counts.failed++;
        }
    }

  g_print ("# %s: %u passed, %u failed, %u skipped\n", basename,
           file_counts.passed, file_counts.failed, file_counts.skipped);

  counts->passed += file_counts.passed;
  counts->failed += file_counts.failed;
  counts->skipped += file_counts.skipped;

  return TRUE;
}

int
main (int   argc,
      char *argv[])
{
  Counts counts = { 0 };
  gboolean file_errors = FALSE;

  if (argc < 2)
    {
      g_printerr ("Usage: %s FILE.json [FILE.json...]\n", argv[0]);
      return 2;
    }

  if (sodium_init () < 0)
    {
      g_printerr ("noise-vectors: could not initialize libsodium\n");
      return 1;
    }

  for (int i = 1; i < argc; i++)
    {
      g_autoptr(GError) error = NULL;

      if (!run_file (argv[i], &counts, &error))
        {
          g_printerr ("noise-vectors: %s: %s\n", argv[i], error->message);
          file_errors = TRUE;
        }
    }

  g_print ("%u passed, %u failed, %u skipped\n", counts.passed, counts.failed, counts.skipped);

  return (counts.failed > 0 || file_errors) ? 1 : 0;
}
