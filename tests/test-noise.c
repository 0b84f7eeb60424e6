/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * CompanionNoiseHandshake and CompanionNoiseCipher: the published test
 * vectors in tests/data/noise-vectors, then the failures that matter for
 * pairing (IKpsk2) and sessions (KK).
 */
#define G_LOG_DOMAIN "test-noise"

#include "config.h"

#include <json-glib/json-glib.h>
#include <sodium.h>
#include <string.h>

#include "companion-noise-cipher.h"
#include "companion-noise.h"

#define KEY_LEN COMPANION_NOISE_KEY_LEN

/* Short names for the patterns and roles the tests use most. */
#define IK        COMPANION_NOISE_PATTERN_IK
#define IKPSK2    COMPANION_NOISE_PATTERN_IKPSK2
#define KK        COMPANION_NOISE_PATTERN_KK
#define KKPSK0    COMPANION_NOISE_PATTERN_KKPSK0
#define KKPSK2    COMPANION_NOISE_PATTERN_KKPSK2
#define INITIATOR COMPANION_NOISE_ROLE_INITIATOR
#define RESPONDER COMPANION_NOISE_ROLE_RESPONDER

/* ---- Test vectors -------------------------------------------------------- */

typedef struct
{
  const char *file;
  guint       min_ikpsk2;  /* what the file is known to hold (README.md there) */
  guint       min_kk;
} VectorFile;

static const VectorFile vector_files[] = {
  { "cacophony.json", 1, 1 },
  { "snow.json",      0, 1 },
  { "flynn.json",     4, 4 },
};

static GByteArray *
hex_to_array (const char *hex)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  gsize len;

  g_assert_nonnull (hex);
  len = strlen (hex);
  g_assert_cmpuint (len % 2, ==, 0);
  for (gsize i = 0; i < len; i += 2)
    {
      int hi = g_ascii_xdigit_value (hex[i]);
      int lo = g_ascii_xdigit_value (hex[i + 1]);
      guint8 byte;

      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      byte = (guint8) (hi << 4 | lo);
      g_byte_array_append (bytes, &byte, 1);
    }

  return g_steal_pointer (&bytes);
}

/* A hex member; an absent one is empty. */
static GByteArray *
member_hex (JsonObject *obj,
            const char *member)
{
  if (!json_object_has_member (obj, member))
    return g_byte_array_new ();

  return hex_to_array (json_object_get_string_member (obj, member));
}

/* Calls @set with the 32-byte key in @member, if the vector has one. */
static void
set_key_member (CompanionNoiseHandshake *hs,
                JsonObject              *v,
                const char              *prefix,
                const char              *member,
                void                   (*set) (CompanionNoiseHandshake *, const guint8 *))
{
  g_autofree char *name = g_strconcat (prefix, member, NULL);
  g_autoptr(GByteArray) key = member_hex (v, name);

  if (key->len == 0)
    return;
  g_assert_cmpuint (key->len, ==, KEY_LEN);
  set (hs, key->data);
}

static void
configure_side (CompanionNoiseHandshake *hs,
                JsonObject              *v,
                const char              *prefix)
{
  g_autofree char *prologue_name = g_strconcat (prefix, "prologue", NULL);
  g_autofree char *psks_name = g_strconcat (prefix, "psks", NULL);
  g_autoptr(GByteArray) prologue = member_hex (v, prologue_name);

  companion_noise_handshake_set_prologue (hs, prologue->data, prologue->len);

  if (json_object_has_member (v, psks_name))
    {
      JsonArray *psks = json_object_get_array_member (v, psks_name);

      g_assert_cmpuint (json_array_get_length (psks), <=, 1);
      if (json_array_get_length (psks) == 1)
        {
          g_autoptr(GByteArray) psk = hex_to_array (json_array_get_string_element (psks, 0));

          g_assert_cmpuint (psk->len, ==, KEY_LEN);
          companion_noise_handshake_set_psk (hs, psk->data);
        }
    }

  set_key_member (hs, v, prefix, "static", companion_noise_handshake_set_local_static);
  set_key_member (hs, v, prefix, "ephemeral", companion_noise_handshake_set_fixed_ephemeral);
  set_key_member (hs, v, prefix, "remote_static", companion_noise_handshake_set_remote_static);
}

static void
assert_array_eq (GByteArray *a,
                 GByteArray *b)
{
  g_assert_cmpmem (a->data, a->len, b->data, b->len);
}

/* Runs one vector whose protocol we implement, asserting every byte. */
static void
run_vector (JsonObject *v,
            const char *protocol_name)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(CompanionNoiseCipher) init_send = NULL;
  g_autoptr(CompanionNoiseCipher) init_recv = NULL;
  g_autoptr(CompanionNoiseCipher) resp_send = NULL;
  g_autoptr(CompanionNoiseCipher) resp_recv = NULL;
  g_autoptr(GByteArray) expected_hash = member_hex (v, "handshake_hash");
  g_autoptr(GError) error = NULL;
  const char *first_sender = NULL;
  JsonArray *messages;
  guint n_handshake = 0;

  initiator = companion_noise_handshake_new_from_name (protocol_name, INITIATOR, &error);
  g_assert_no_error (error);
  responder = companion_noise_handshake_new_from_name (protocol_name, RESPONDER, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (companion_noise_handshake_get_protocol_name (initiator), ==, protocol_name);

  configure_side (initiator, v, "init_");
  configure_side (responder, v, "resp_");

  if (json_object_has_member (v, "transport_first_sender"))
    first_sender = json_object_get_string_member (v, "transport_first_sender");

  messages = json_object_get_array_member (v, "messages");
  g_assert_nonnull (messages);

  for (guint i = 0; i < json_array_get_length (messages); i++)
    {
      JsonObject *m = json_array_get_object_element (messages, i);
      g_autoptr(GByteArray) payload = member_hex (m, "payload");
      g_autoptr(GByteArray) ciphertext = member_hex (m, "ciphertext");
      g_autoptr(GByteArray) written = g_byte_array_new ();
      g_autoptr(GByteArray) read = g_byte_array_new ();
      gboolean from_initiator;

      if (!companion_noise_handshake_is_finished (initiator))
        {
          CompanionNoiseHandshake *writer, *reader;

          from_initiator = i % 2 == 0;
          writer = from_initiator ? initiator : responder;
          reader = from_initiator ? responder : initiator;
          g_assert_true (companion_noise_handshake_is_my_turn (writer));
          g_assert_false (companion_noise_handshake_is_my_turn (reader));

          g_assert_true (companion_noise_handshake_write_message (writer,
                                                                  payload->data, payload->len,
                                                                  written, &error));
          g_assert_no_error (error);
          assert_array_eq (written, ciphertext);
          g_assert_true (companion_noise_handshake_read_message (reader,
                                                                 ciphertext->data, ciphertext->len,
                                                                 read, &error));
          g_assert_no_error (error);
          assert_array_eq (read, payload);

          n_handshake = i + 1;
          g_assert_cmpint (companion_noise_handshake_is_finished (initiator), ==,
                           companion_noise_handshake_is_finished (responder));

          if (companion_noise_handshake_is_finished (initiator))
            {
              g_autoptr(GBytes) init_hash = NULL;
              g_autoptr(GBytes) resp_hash = NULL;

              init_hash = companion_noise_handshake_get_handshake_hash (initiator);
              resp_hash = companion_noise_handshake_get_handshake_hash (responder);

              g_assert_nonnull (init_hash);
              g_assert_cmpuint (g_bytes_get_size (init_hash), ==, COMPANION_NOISE_HASH_LEN);
              g_assert_true (g_bytes_equal (init_hash, resp_hash));
              if (expected_hash->len > 0)
                g_assert_cmpmem (g_bytes_get_data (init_hash, NULL), g_bytes_get_size (init_hash),
                                 expected_hash->data, expected_hash->len);

              g_assert_true (companion_noise_handshake_split (initiator, &init_send, &init_recv,
                                                              &error));
              g_assert_no_error (error);
              g_assert_true (companion_noise_handshake_split (responder, &resp_send, &resp_recv,
                                                              &error));
              g_assert_no_error (error);
            }
          continue;
        }

      if (first_sender == NULL)
        from_initiator = i % 2 == 0;
      else
        from_initiator = ((i - n_handshake) % 2 == 0) ==
                         (g_strcmp0 (first_sender, "initiator") == 0);

      g_assert_true (companion_noise_cipher_encrypt (from_initiator ? init_send : resp_send,
                                                     payload->data, payload->len, written, &error));
      g_assert_no_error (error);
      assert_array_eq (written, ciphertext);
      g_assert_true (companion_noise_cipher_decrypt (from_initiator ? resp_recv : init_recv,
                                                     ciphertext->data, ciphertext->len,
                                                     read, &error));
      g_assert_no_error (error);
      assert_array_eq (read, payload);
    }

  g_assert_true (companion_noise_handshake_is_finished (initiator));
  g_assert_nonnull (init_send);
}

static void
test_vectors (gconstpointer data)
{
  const VectorFile *vf = data;
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "noise-vectors",
                                                 vf->file, NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  guint n_ikpsk2 = 0, n_kk = 0, n_other = 0, n_skipped = 0;
  JsonArray *vectors;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  vectors = json_object_get_array_member (json_node_get_object (json_parser_get_root (parser)),
                                          "vectors");
  g_assert_nonnull (vectors);

  for (guint i = 0; i < json_array_get_length (vectors); i++)
    {
      JsonObject *v = json_array_get_object_element (vectors, i);
      const char *protocol_name = json_object_get_string_member (v, "protocol_name");
      g_autoptr(CompanionNoiseHandshake) probe = NULL;
      g_autoptr(GError) local_error = NULL;

      probe = companion_noise_handshake_new_from_name (protocol_name, INITIATOR,
                                                       &local_error);
      if (probe == NULL)
        {
          g_assert_error (local_error, COMPANION_NOISE_ERROR,
                          COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL);
          n_skipped++;
          continue;
        }

      g_test_message ("%s vectors[%u]: %s", vf->file, i, protocol_name);
      run_vector (v, protocol_name);

      switch (companion_noise_handshake_get_pattern (probe))
        {
        case COMPANION_NOISE_PATTERN_IKPSK2:
          n_ikpsk2++;
          break;
        case COMPANION_NOISE_PATTERN_KK:
          n_kk++;
          break;
        case COMPANION_NOISE_PATTERN_NN:
        case COMPANION_NOISE_PATTERN_IK:
        case COMPANION_NOISE_PATTERN_XX:
        case COMPANION_NOISE_PATTERN_KKPSK0:
        case COMPANION_NOISE_PATTERN_KKPSK2:
        default:
          n_other++;
          break;
        }
    }

  g_test_message ("%s: %u IKpsk2, %u KK, %u other vectors passed, %u skipped",
                  vf->file, n_ikpsk2, n_kk, n_other, n_skipped);
  g_assert_cmpuint (n_ikpsk2 + n_kk, >, 0);
  g_assert_cmpuint (n_ikpsk2, >=, vf->min_ikpsk2);
  g_assert_cmpuint (n_kk, >=, vf->min_kk);
}

/* ---- Helpers for the behaviour tests ------------------------------------ */

typedef struct
{
  guint8 init_s[KEY_LEN];
  guint8 init_s_pub[KEY_LEN];
  guint8 resp_s[KEY_LEN];
  guint8 resp_s_pub[KEY_LEN];
  guint8 psk[KEY_LEN];
} Keys;

static const guint8 test_prologue[] = "companion/1 test";

static void
keys_generate (Keys *k)
{
  randombytes_buf (k->init_s, KEY_LEN);
  crypto_scalarmult_base (k->init_s_pub, k->init_s);
  randombytes_buf (k->resp_s, KEY_LEN);
  crypto_scalarmult_base (k->resp_s_pub, k->resp_s);
  randombytes_buf (k->psk, KEY_LEN);
}

/* A handshake with the keys its pattern uses. */
static CompanionNoiseHandshake *
new_handshake (CompanionNoisePattern  pattern,
               CompanionNoiseRole     role,
               const Keys            *k)
{
  g_autoptr(CompanionNoiseHandshake) hs = NULL;
  g_autoptr(GError) error = NULL;
  gboolean initiator = role == INITIATOR;
  gboolean kk = pattern == KK ||
                pattern == KKPSK0 ||
                pattern == KKPSK2;
  gboolean ik = pattern == IK ||
                pattern == IKPSK2;

  g_assert_true (kk || ik);

  hs = companion_noise_handshake_new (pattern, role, &error);
  g_assert_no_error (error);
  g_assert_nonnull (hs);

  companion_noise_handshake_set_prologue (hs, test_prologue, sizeof test_prologue - 1);
  companion_noise_handshake_set_local_static (hs, initiator ? k->init_s : k->resp_s);
  if (initiator)
    companion_noise_handshake_set_remote_static (hs, k->resp_s_pub);
  else if (kk)
    companion_noise_handshake_set_remote_static (hs, k->init_s_pub);
  if (pattern == IKPSK2 ||
      pattern == KKPSK0 ||
      pattern == KKPSK2)
    companion_noise_handshake_set_psk (hs, k->psk);

  return g_steal_pointer (&hs);
}

static GByteArray *
write_ok (CompanionNoiseHandshake *writer,
          const char              *payload)
{
  g_autoptr(GByteArray) msg = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_noise_handshake_write_message (writer, (const guint8 *) payload,
                                                          strlen (payload), msg, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&msg);
}

static void
read_ok (CompanionNoiseHandshake *reader,
         GByteArray              *msg,
         const char              *expected_payload)
{
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_noise_handshake_read_message (reader, msg->data, msg->len,
                                                         payload, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (payload->data, payload->len, expected_payload, strlen (expected_payload));
}

static void
read_fails (CompanionNoiseHandshake *reader,
            const guint8            *msg,
            gsize                    len,
            CompanionNoiseError      code)
{
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_byte_array_append (payload, (const guint8 *) "keep", 4);
  g_assert_false (companion_noise_handshake_read_message (reader, msg, len, payload, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, (int) code);
  g_test_message ("expected error: %s", error->message);
  /* The output buffer is left as it was. */
  g_assert_cmpmem (payload->data, payload->len, "keep", 4);
}

static void
write_fails (CompanionNoiseHandshake *writer,
             gsize                    payload_len,
             CompanionNoiseError      code)
{
  g_autofree guint8 *payload = g_malloc0 (payload_len + 1);
  g_autoptr(GByteArray) msg = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (companion_noise_handshake_write_message (writer, payload, payload_len,
                                                           msg, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, (int) code);
  g_test_message ("expected error: %s", error->message);
  g_assert_cmpuint (msg->len, ==, 0);
}

/* Runs a two-message handshake to the end and splits both sides. */
static void
complete_handshake (CompanionNoiseHandshake  *initiator,
                    CompanionNoiseHandshake  *responder,
                    CompanionNoiseCipher    **init_send,
                    CompanionNoiseCipher    **init_recv,
                    CompanionNoiseCipher    **resp_send,
                    CompanionNoiseCipher    **resp_recv)
{
  g_autoptr(GByteArray) msg1 = NULL;
  g_autoptr(GByteArray) msg2 = NULL;
  g_autoptr(GError) error = NULL;

  msg1 = write_ok (initiator, "hello");
  read_ok (responder, msg1, "hello");
  msg2 = write_ok (responder, "welcome");
  read_ok (initiator, msg2, "welcome");

  g_assert_true (companion_noise_handshake_is_finished (initiator));
  g_assert_true (companion_noise_handshake_is_finished (responder));

  g_assert_true (companion_noise_handshake_split (initiator, init_send, init_recv, &error));
  g_assert_no_error (error);
  g_assert_true (companion_noise_handshake_split (responder, resp_send, resp_recv, &error));
  g_assert_no_error (error);
}

static GByteArray *
encrypt_ok (CompanionNoiseCipher *cipher,
            const char           *text)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_noise_cipher_encrypt (cipher, (const guint8 *) text, strlen (text),
                                                 out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out->len, ==, strlen (text) + COMPANION_NOISE_TAG_LEN);
  return g_steal_pointer (&out);
}

static void
decrypt_ok (CompanionNoiseCipher *cipher,
            GByteArray           *ciphertext,
            const char           *expected)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (companion_noise_cipher_decrypt (cipher, ciphertext->data, ciphertext->len,
                                                 out, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out->data, out->len, expected, strlen (expected));
}

static void
decrypt_fails (CompanionNoiseCipher *cipher,
               const guint8         *ciphertext,
               gsize                 len,
               CompanionNoiseError   code)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  guint64 nonce = companion_noise_cipher_get_nonce (cipher);

  g_assert_false (companion_noise_cipher_decrypt (cipher, ciphertext, len, out, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, (int) code);
  g_assert_cmpuint (out->len, ==, 0);
  /* A failed message does not consume a nonce. */
  g_assert_cmpuint (companion_noise_cipher_get_nonce (cipher), ==, nonce);
}

static void
assert_bytes_eq (GBytes       *bytes,
                 const guint8 *data,
                 gsize         len)
{
  g_assert_nonnull (bytes);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), data, len);
}

/* ---- Round trips ---------------------------------------------------------- */

static void
test_round_trip (gconstpointer data)
{
  CompanionNoisePattern pattern = GPOINTER_TO_INT (data);
  CompanionNoiseHandshake *initiator, *responder;
  CompanionNoiseCipher *init_send = NULL, *init_recv = NULL, *resp_send = NULL, *resp_recv = NULL;
  g_autoptr(GBytes) init_hash = NULL;
  g_autoptr(GBytes) resp_hash = NULL;
  g_autoptr(GBytes) init_remote = NULL;
  g_autoptr(GBytes) resp_remote = NULL;
  Keys k;

  keys_generate (&k);
  initiator = new_handshake (pattern, INITIATOR, &k);
  responder = new_handshake (pattern, RESPONDER, &k);

  g_assert_null (companion_noise_handshake_get_handshake_hash (initiator));
  if (pattern == IKPSK2)
    g_assert_null (companion_noise_handshake_get_remote_static (responder));

  complete_handshake (initiator, responder, &init_send, &init_recv, &resp_send, &resp_recv);

  init_hash = companion_noise_handshake_get_handshake_hash (initiator);
  resp_hash = companion_noise_handshake_get_handshake_hash (responder);
  g_assert_nonnull (init_hash);
  g_assert_cmpuint (g_bytes_get_size (init_hash), ==, COMPANION_NOISE_HASH_LEN);
  g_assert_true (g_bytes_equal (init_hash, resp_hash));

  /* Each side knows the other's static key; for IKpsk2 the responder (the
   * desktop) learnt the phone's identity key from the handshake. */
  init_remote = companion_noise_handshake_get_remote_static (initiator);
  resp_remote = companion_noise_handshake_get_remote_static (responder);
  assert_bytes_eq (init_remote, k.resp_s_pub, KEY_LEN);
  assert_bytes_eq (resp_remote, k.init_s_pub, KEY_LEN);

  for (guint i = 0; i < 5; i++)
    {
      g_autoptr(GByteArray) a = encrypt_ok (init_send, "from the phone");
      g_autoptr(GByteArray) b = encrypt_ok (resp_send, "from the desktop");

      decrypt_ok (resp_recv, a, "from the phone");
      decrypt_ok (init_recv, b, "from the desktop");
    }
  g_assert_cmpuint (companion_noise_cipher_get_nonce (init_send), ==, 5);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (resp_recv), ==, 5);

  /* Nothing else holds a reference. */
  g_assert_finalize_object (init_send);
  g_assert_finalize_object (init_recv);
  g_assert_finalize_object (resp_send);
  g_assert_finalize_object (resp_recv);
  g_assert_finalize_object (initiator);
  g_assert_finalize_object (responder);
}

/* Two fresh handshakes between the same identities get different keys. */
static void
test_fresh_ephemerals (void)
{
  g_autoptr(GBytes) first_hash = NULL;
  Keys k;

  keys_generate (&k);
  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (KK, INITIATOR, &k);
      g_autoptr(CompanionNoiseHandshake) responder = new_handshake (KK, RESPONDER, &k);
      g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
      g_autoptr(GBytes) hash = NULL;

      complete_handshake (initiator, responder, &is, &ir, &rs, &rr);
      hash = companion_noise_handshake_get_handshake_hash (initiator);
      if (round == 0)
        first_hash = g_steal_pointer (&hash);
      else
        g_assert_false (g_bytes_equal (first_hash, hash));
    }
}

/* ---- Authentication failures --------------------------------------------- */

static void
test_ikpsk2_wrong_psk (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(CompanionNoiseCipher) resp_send = NULL;
  g_autoptr(CompanionNoiseCipher) resp_recv = NULL;
  g_autoptr(GByteArray) msg1 = NULL;
  g_autoptr(GByteArray) msg2 = NULL;
  g_autoptr(GByteArray) payload = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *psk_hex = NULL;
  guint8 forged[64];
  Keys k;

  keys_generate (&k);
  initiator = new_handshake (IKPSK2, INITIATOR, &k);
  psk_hex = g_malloc (2 * KEY_LEN + 1);
  sodium_bin2hex (psk_hex, 2 * KEY_LEN + 1, k.psk, KEY_LEN);
  k.psk[7] ^= 0x01;   /* the desktop's QR said something else */
  responder = new_handshake (IKPSK2, RESPONDER, &k);

  /* psk2: the psk is mixed in at the end of message 2, so message 1 reads. */
  msg1 = write_ok (initiator, "");
  read_ok (responder, msg1, "");
  msg2 = write_ok (responder, "");
  g_assert_true (companion_noise_handshake_is_finished (responder));

  /* The phone cannot read the desktop's answer... */
  g_assert_false (companion_noise_handshake_read_message (initiator, msg2->data, msg2->len,
                                                          payload, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  g_assert_null (strstr (error->message, psk_hex));
  g_clear_error (&error);
  g_assert_false (companion_noise_handshake_is_finished (initiator));
  g_assert_null (companion_noise_handshake_get_handshake_hash (initiator));
  /* ...and its handshake is dead. */
  g_assert_false (companion_noise_handshake_read_message (initiator, msg2->data, msg2->len,
                                                          payload, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE);
  g_clear_error (&error);

  /* The desktop commits nothing until a transport message decrypts: whatever
   * a peer without the psk sends fails. */
  g_assert_true (companion_noise_handshake_split (responder, &resp_send, &resp_recv, &error));
  g_assert_no_error (error);
  randombytes_buf (forged, sizeof forged);
  decrypt_fails (resp_recv, forged, sizeof forged, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
}

/* With the psk at the start (KKpsk0) the responder's first read fails. */
static void
test_kkpsk0_wrong_psk (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(GByteArray) msg1 = NULL;
  Keys k;

  keys_generate (&k);
  initiator = new_handshake (KKPSK0, INITIATOR, &k);
  k.psk[0] ^= 0x80;
  responder = new_handshake (KKPSK0, RESPONDER, &k);

  msg1 = write_ok (initiator, "");
  read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
}

/* The phone scanned the QR of another desktop. */
static void
test_ikpsk2_wrong_responder_static (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(GByteArray) msg1 = NULL;
  Keys k, other;

  keys_generate (&k);
  keys_generate (&other);
  memcpy (other.init_s, k.init_s, KEY_LEN);
  memcpy (other.psk, k.psk, KEY_LEN);
  initiator = new_handshake (IKPSK2, INITIATOR, &other);
  responder = new_handshake (IKPSK2, RESPONDER, &k);

  msg1 = write_ok (initiator, "");
  read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  g_assert_null (companion_noise_handshake_get_remote_static (responder));
}

/* A different prologue (another QR payload, another version) fails. */
static void
test_ikpsk2_wrong_prologue (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(GByteArray) msg1 = NULL;
  Keys k;

  keys_generate (&k);
  initiator = new_handshake (IKPSK2, INITIATOR, &k);
  responder = new_handshake (IKPSK2, RESPONDER, &k);
  companion_noise_handshake_set_prologue (responder, (const guint8 *) "companion/2 test", 16);

  msg1 = write_ok (initiator, "");
  read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
}

/* The desktop knows a different phone identity. */
static void
test_kk_unknown_initiator (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(GByteArray) msg1 = NULL;
  Keys k, stranger;

  keys_generate (&k);
  stranger = k;
  randombytes_buf (stranger.init_s, KEY_LEN);
  crypto_scalarmult_base (stranger.init_s_pub, stranger.init_s);

  initiator = new_handshake (KK, INITIATOR, &stranger);
  responder = new_handshake (KK, RESPONDER, &k);

  msg1 = write_ok (initiator, "");
  read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
}

/* The phone expects a different desktop identity (e.g. after unlink). */
static void
test_kk_unknown_responder (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(GByteArray) msg1 = NULL;
  Keys k, stranger;

  keys_generate (&k);
  stranger = k;
  randombytes_buf (stranger.resp_s, KEY_LEN);
  crypto_scalarmult_base (stranger.resp_s_pub, stranger.resp_s);

  initiator = new_handshake (KK, INITIATOR, &k);
  responder = new_handshake (KK, RESPONDER, &stranger);

  msg1 = write_ok (initiator, "");
  read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
}

/* ---- Malformed messages --------------------------------------------------- */

static void
test_truncated (void)
{
  g_autoptr(GByteArray) msg1 = NULL;
  g_autoptr(GByteArray) msg2 = NULL;
  Keys k;

  keys_generate (&k);

  {
    g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (IKPSK2, INITIATOR, &k);
    msg1 = write_ok (initiator, "payload");
  }
  /* e (32) + encrypted s (48) + encrypted payload (7 + 16) */
  g_assert_cmpuint (msg1->len, ==, 32 + 48 + 7 + 16);

  for (gsize cut = 0; cut < msg1->len; cut++)
    {
      g_autoptr(CompanionNoiseHandshake) responder = new_handshake (IKPSK2, RESPONDER, &k);
      g_autoptr(GByteArray) payload = g_byte_array_new ();
      g_autoptr(GError) error = NULL;

      g_assert_false (companion_noise_handshake_read_message (responder, msg1->data, cut,
                                                              payload, &error));
      /* Shorter than its keys and tags: a length error; otherwise the tag fails. */
      if (cut < 32 + 48 + 16)
        g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
      else
        g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
    }

  /* Message 2 (e + encrypted empty payload) cut short. */
  {
    g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (KK, INITIATOR, &k);
    g_autoptr(CompanionNoiseHandshake) responder = new_handshake (KK, RESPONDER, &k);
    g_autoptr(GByteArray) m1 = write_ok (initiator, "");

    read_ok (responder, m1, "");
    msg2 = write_ok (responder, "");
    g_assert_cmpuint (msg2->len, ==, 32 + 16);
    read_fails (initiator, msg2->data, 40, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
  }

  /* A transport message shorter than a tag, and one cut by a byte. */
  {
    g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (KK, INITIATOR, &k);
    g_autoptr(CompanionNoiseHandshake) responder = new_handshake (KK, RESPONDER, &k);
    g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
    g_autoptr(GByteArray) ct = NULL;

    complete_handshake (initiator, responder, &is, &ir, &rs, &rr);
    ct = encrypt_ok (is, "a transport message");
    decrypt_fails (rr, ct->data, COMPANION_NOISE_TAG_LEN - 1,
                   COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
    decrypt_fails (rr, ct->data, 0, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
    decrypt_fails (rr, ct->data, ct->len - 1, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
    decrypt_ok (rr, ct, "a transport message");
  }
}

static void
test_oversized (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) big = g_byte_array_new ();
  g_autoptr(GByteArray) msg1 = g_byte_array_new ();
  g_autoptr(GByteArray) msg2 = NULL;
  g_autoptr(GByteArray) ct = g_byte_array_new ();
  g_autoptr(GByteArray) pt = g_byte_array_new ();
  g_autoptr(GError) error = NULL;
  gsize max_msg1_payload = COMPANION_NOISE_MAX_MESSAGE_LEN - 32 - 48 - 16;
  Keys k;

  keys_generate (&k);
  initiator = new_handshake (IKPSK2, INITIATOR, &k);
  responder = new_handshake (IKPSK2, RESPONDER, &k);

  /* Writing a message over 65535 bytes fails and leaves the handshake usable. */
  write_fails (initiator, COMPANION_NOISE_MAX_MESSAGE_LEN + 1,
               COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
  write_fails (initiator, max_msg1_payload + 1, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);

  g_byte_array_set_size (big, max_msg1_payload);
  memset (big->data, 'x', big->len);
  g_assert_true (companion_noise_handshake_write_message (initiator, big->data, big->len,
                                                          msg1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (msg1->len, ==, COMPANION_NOISE_MAX_MESSAGE_LEN);

  /* Reading a message over 65535 bytes fails. */
  {
    g_autoptr(CompanionNoiseHandshake) other = new_handshake (IKPSK2, RESPONDER, &k);
    g_autoptr(GByteArray) huge = g_byte_array_new ();

    g_byte_array_append (huge, msg1->data, msg1->len);
    g_byte_array_append (huge, (const guint8 *) "!", 1);
    read_fails (other, huge->data, huge->len, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
  }

  g_assert_true (companion_noise_handshake_read_message (responder, msg1->data, msg1->len,
                                                         pt, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (pt->data, pt->len, big->data, big->len);
  msg2 = write_ok (responder, "");
  read_ok (initiator, msg2, "");
  g_assert_true (companion_noise_handshake_split (initiator, &is, &ir, &error));
  g_assert_no_error (error);
  g_assert_true (companion_noise_handshake_split (responder, &rs, &rr, &error));
  g_assert_no_error (error);

  /* Transport: 65519 bytes of plaintext is the most one message carries. */
  g_byte_array_set_size (big, COMPANION_NOISE_MAX_PAYLOAD_LEN + 1);
  g_assert_false (companion_noise_cipher_encrypt (is, big->data, big->len, ct, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
  g_clear_error (&error);
  g_assert_cmpuint (ct->len, ==, 0);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (is), ==, 0);

  g_byte_array_set_size (big, COMPANION_NOISE_MAX_PAYLOAD_LEN);
  g_assert_true (companion_noise_cipher_encrypt (is, big->data, big->len, ct, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ct->len, ==, COMPANION_NOISE_MAX_MESSAGE_LEN);

  g_byte_array_append (ct, (const guint8 *) "!", 1);
  decrypt_fails (rr, ct->data, ct->len, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
  g_byte_array_set_size (pt, 0);
  g_assert_true (companion_noise_cipher_decrypt (rr, ct->data, ct->len - 1, pt, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (pt->data, pt->len, big->data, big->len);
}

static void
test_tampered (void)
{
  g_autoptr(GByteArray) msg1 = NULL;
  g_autoptr(GByteArray) msg2 = NULL;
  /* In message 1: the ephemeral, the encrypted static, its tag, the payload, its tag. */
  const gsize msg1_positions[] = { 0, 31, 32, 63, 64, 79, 80, 86, 87, 102 };
  Keys k;

  keys_generate (&k);

  {
    g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (IKPSK2, INITIATOR, &k);
    msg1 = write_ok (initiator, "payload");
    g_assert_cmpuint (msg1->len, ==, 32 + 48 + 7 + 16);
  }

  for (guint i = 0; i < G_N_ELEMENTS (msg1_positions); i++)
    {
      g_autoptr(CompanionNoiseHandshake) responder = new_handshake (IKPSK2, RESPONDER, &k);
      g_autoptr(GByteArray) copy = g_byte_array_new ();

      g_byte_array_append (copy, msg1->data, msg1->len);
      copy->data[msg1_positions[i]] ^= 0x04;
      read_fails (responder, copy->data, copy->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
    }

  /* Message 2, every byte. */
  for (gsize pos = 0; pos < 32 + 2 + 16; pos++)
    {
      g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (IKPSK2, INITIATOR, &k);
      g_autoptr(CompanionNoiseHandshake) responder = new_handshake (IKPSK2, RESPONDER, &k);
      g_autoptr(GByteArray) m1 = write_ok (initiator, "");

      read_ok (responder, m1, "");
      g_clear_pointer (&msg2, g_byte_array_unref);
      msg2 = write_ok (responder, "ok");
      g_assert_cmpuint (msg2->len, ==, 32 + 2 + 16);
      msg2->data[pos] ^= 0x01;
      read_fails (initiator, msg2->data, msg2->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
    }

  /* Transport: a flipped bit fails, the original still decrypts after it. */
  {
    g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (KK, INITIATOR, &k);
    g_autoptr(CompanionNoiseHandshake) responder = new_handshake (KK, RESPONDER, &k);
    g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
    g_autoptr(GByteArray) ct = NULL;

    complete_handshake (initiator, responder, &is, &ir, &rs, &rr);
    ct = encrypt_ok (is, "mark chat 7 as read");
    for (gsize pos = 0; pos < ct->len; pos++)
      {
        g_autoptr(GByteArray) copy = g_byte_array_new ();

        g_byte_array_append (copy, ct->data, ct->len);
        copy->data[pos] ^= 0x20;
        decrypt_fails (rr, copy->data, copy->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
      }
    decrypt_ok (rr, ct, "mark chat 7 as read");
  }
}

/* ---- Transport ordering ---------------------------------------------------- */

static void
make_session (CompanionNoiseCipher **init_send,
              CompanionNoiseCipher **init_recv,
              CompanionNoiseCipher **resp_send,
              CompanionNoiseCipher **resp_recv)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  Keys k;

  keys_generate (&k);
  initiator = new_handshake (KK, INITIATOR, &k);
  responder = new_handshake (KK, RESPONDER, &k);
  complete_handshake (initiator, responder, init_send, init_recv, resp_send, resp_recv);
}

static void
test_replay (void)
{
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) m0 = NULL;
  g_autoptr(GByteArray) m1 = NULL;

  make_session (&is, &ir, &rs, &rr);
  m0 = encrypt_ok (is, "delete message 42");
  decrypt_ok (rr, m0, "delete message 42");
  decrypt_fails (rr, m0->data, m0->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);

  m1 = encrypt_ok (is, "next");
  decrypt_ok (rr, m1, "next");
  decrypt_fails (rr, m0->data, m0->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  decrypt_fails (rr, m1->data, m1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);

  /* A message reflected back to its sender fails too. */
  decrypt_fails (ir, m1->data, m1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
}

/* An empty payload into an empty output array (found by fuzz-noise-responder:
 * the array has no buffer yet, and writing "nothing at NULL" was undefined). */
static void
test_empty_payload (void)
{
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) m0 = NULL;
  g_autoptr(GByteArray) m1 = NULL;

  make_session (&is, &ir, &rs, &rr);
  m0 = encrypt_ok (is, "");
  decrypt_ok (rr, m0, "");
  m1 = encrypt_ok (is, "");
  m1->data[0] ^= 1;
  decrypt_fails (rr, m1->data, m1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
}

static void
test_reorder (void)
{
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) m0 = NULL;
  g_autoptr(GByteArray) m1 = NULL;
  g_autoptr(GByteArray) m2 = NULL;

  make_session (&is, &ir, &rs, &rr);
  m0 = encrypt_ok (rs, "first");
  m1 = encrypt_ok (rs, "second");
  m2 = encrypt_ok (rs, "third");

  decrypt_fails (ir, m1->data, m1->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  decrypt_fails (ir, m2->data, m2->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  decrypt_ok (ir, m0, "first");
  /* Dropping a message breaks every later one. */
  decrypt_fails (ir, m2->data, m2->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  decrypt_ok (ir, m1, "second");
  decrypt_ok (ir, m2, "third");
  g_assert_cmpuint (companion_noise_cipher_get_nonce (ir), ==, 3);
}

static void
test_rekey (void)
{
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) before = NULL;
  g_autoptr(GByteArray) after = NULL;
  g_autoptr(GByteArray) again = NULL;

  make_session (&is, &ir, &rs, &rr);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GByteArray) a = encrypt_ok (is, "ping");
      g_autoptr(GByteArray) b = encrypt_ok (rs, "pong");

      decrypt_ok (rr, a, "ping");
      decrypt_ok (ir, b, "pong");
    }

  /* Both directions rekey at the same point; nonces carry on. */
  companion_noise_cipher_rekey (is);
  companion_noise_cipher_rekey (rr);
  companion_noise_cipher_rekey (rs);
  companion_noise_cipher_rekey (ir);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (is), ==, 3);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (rr), ==, 3);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GByteArray) a = encrypt_ok (is, "ping after rekey");
      g_autoptr(GByteArray) b = encrypt_ok (rs, "pong after rekey");

      decrypt_ok (rr, a, "ping after rekey");
      decrypt_ok (ir, b, "pong after rekey");
    }

  /* The key really changed: the same nonce under the old key differs, and a
   * rekey on one side only breaks the stream until the other follows. */
  before = encrypt_ok (is, "x");
  companion_noise_cipher_set_nonce (is, companion_noise_cipher_get_nonce (is) - 1);
  companion_noise_cipher_rekey (is);
  after = encrypt_ok (is, "x");
  g_assert_cmpuint (before->len, ==, after->len);
  g_assert_true (memcmp (before->data, after->data, before->len) != 0);
  decrypt_fails (rr, after->data, after->len, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  companion_noise_cipher_rekey (rr);
  decrypt_ok (rr, after, "x");

  again = encrypt_ok (is, "still in step");
  decrypt_ok (rr, again, "still in step");
}

/* Encrypting in place and decrypting into a sized buffer give the same
 * bytes and the same failures as the GByteArray forms. */
static void
test_in_place (void)
{
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) reference = NULL;
  g_autoptr(GError) error = NULL;
  const char *text = "a chunk of media, encrypted where it lies";
  gsize len = strlen (text);
  guint8 buffer[128];
  guint8 plain[128];

  make_session (&is, &ir, &rs, &rr);

  reference = encrypt_ok (is, text);
  companion_noise_cipher_set_nonce (is, 0);
  memcpy (buffer, text, len);
  g_assert_true (companion_noise_cipher_encrypt_in_place (is, buffer, len, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, len + COMPANION_NOISE_TAG_LEN, reference->data, reference->len);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (is), ==, 1);

  /* Altered: fails, leaves zeros, does not consume the nonce. */
  buffer[3] ^= 1;
  g_assert_false (companion_noise_cipher_decrypt_into (rr, buffer, len + COMPANION_NOISE_TAG_LEN,
                                                       plain, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_DECRYPT_FAILED);
  g_clear_error (&error);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (rr), ==, 0);
  for (gsize i = 0; i < len; i++)
    g_assert_cmpuint (plain[i], ==, 0);
  g_assert_false (companion_noise_cipher_decrypt_into (rr, buffer, COMPANION_NOISE_TAG_LEN - 1,
                                                       plain, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
  g_clear_error (&error);

  buffer[3] ^= 1;
  g_assert_true (companion_noise_cipher_decrypt_into (rr, buffer, len + COMPANION_NOISE_TAG_LEN,
                                                      plain, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (plain, len, text, len);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (rr), ==, 1);

  /* Too long for one message: refused before anything is touched. */
  g_assert_false (companion_noise_cipher_encrypt_in_place (is, buffer, COMPANION_NOISE_MAX_PAYLOAD_LEN + 1,
                                                           &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (is), ==, 1);
}

static void
test_nonce_exhausted (void)
{
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) last = NULL;
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GError) error = NULL;

  make_session (&is, &ir, &rs, &rr);
  companion_noise_cipher_set_nonce (is, G_MAXUINT64 - 1);
  companion_noise_cipher_set_nonce (rr, G_MAXUINT64 - 1);

  /* 2^64-2 is the last usable nonce; 2^64-1 is reserved for rekey. */
  last = encrypt_ok (is, "last");
  decrypt_ok (rr, last, "last");
  g_assert_cmpuint (companion_noise_cipher_get_nonce (is), ==, G_MAXUINT64);

  g_assert_false (companion_noise_cipher_encrypt (is, (const guint8 *) "one more", 8, out, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_NONCE_EXHAUSTED);
  g_assert_cmpuint (out->len, ==, 0);
  decrypt_fails (rr, last->data, last->len, COMPANION_NOISE_ERROR_NONCE_EXHAUSTED);

  /* Rekey does not reset the counter. */
  companion_noise_cipher_rekey (is);
  g_assert_cmpuint (companion_noise_cipher_get_nonce (is), ==, G_MAXUINT64);
}

/* ---- State machine and keys ------------------------------------------------ */

static void
test_out_of_turn (void)
{
  g_autoptr(CompanionNoiseHandshake) initiator = NULL;
  g_autoptr(CompanionNoiseHandshake) responder = NULL;
  g_autoptr(CompanionNoiseCipher) is = NULL, ir = NULL, rs = NULL, rr = NULL;
  g_autoptr(GByteArray) msg1 = NULL;
  g_autoptr(GByteArray) msg2 = NULL;
  g_autoptr(GError) error = NULL;
  Keys k;

  keys_generate (&k);
  initiator = new_handshake (IKPSK2, INITIATOR, &k);
  responder = new_handshake (IKPSK2, RESPONDER, &k);

  g_assert_true (companion_noise_handshake_is_my_turn (initiator));
  g_assert_false (companion_noise_handshake_is_my_turn (responder));

  /* The responder cannot speak first, the initiator cannot listen first. */
  write_fails (responder, 0, COMPANION_NOISE_ERROR_WRONG_STATE);
  read_fails (initiator, (const guint8 *) "x", 1, COMPANION_NOISE_ERROR_WRONG_STATE);
  g_assert_false (companion_noise_handshake_split (initiator, &is, &ir, &error));
  g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE);
  g_clear_error (&error);

  msg1 = write_ok (initiator, "one");
  /* Not twice in a row. */
  write_fails (initiator, 0, COMPANION_NOISE_ERROR_WRONG_STATE);
  read_ok (responder, msg1, "one");
  read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_WRONG_STATE);

  /* None of the refused calls disturbed the handshake. */
  msg2 = write_ok (responder, "two");
  read_ok (initiator, msg2, "two");
  g_assert_true (companion_noise_handshake_is_finished (initiator));
  g_assert_false (companion_noise_handshake_is_my_turn (initiator));

  /* Nothing after the end but split, once. */
  write_fails (initiator, 0, COMPANION_NOISE_ERROR_WRONG_STATE);
  write_fails (responder, 0, COMPANION_NOISE_ERROR_WRONG_STATE);
  read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_WRONG_STATE);
  g_assert_true (companion_noise_handshake_split (initiator, &is, &ir, &error));
  g_assert_no_error (error);
  g_assert_true (companion_noise_handshake_split (responder, &rs, &rr, &error));
  g_assert_no_error (error);
  {
    g_autoptr(CompanionNoiseCipher) s2 = NULL, r2 = NULL;

    g_assert_false (companion_noise_handshake_split (initiator, &s2, &r2, &error));
    g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE);
    g_clear_error (&error);
    g_assert_null (s2);
  }
  /* The handshake hash outlives split (for the safety code). */
  {
    g_autoptr(GBytes) hash = companion_noise_handshake_get_handshake_hash (initiator);
    g_assert_nonnull (hash);
  }
}

static void
test_missing_keys (void)
{
  g_autoptr(GError) error = NULL;
  Keys k;

  keys_generate (&k);

  /* IKpsk2 initiator without psk, then without the responder's key. */
  {
    g_autoptr(CompanionNoiseHandshake) hs = NULL;

    hs = companion_noise_handshake_new (IKPSK2, INITIATOR, &error);
    g_autoptr(GByteArray) msg = NULL;

    g_assert_no_error (error);
    companion_noise_handshake_set_local_static (hs, k.init_s);
    companion_noise_handshake_set_remote_static (hs, k.resp_s_pub);
    write_fails (hs, 0, COMPANION_NOISE_ERROR_MISSING_KEY);
    /* Still configurable: nothing was started. */
    companion_noise_handshake_set_psk (hs, k.psk);
    msg = write_ok (hs, "");
    g_assert_cmpuint (msg->len, ==, 32 + 48 + 16);
  }
  {
    g_autoptr(CompanionNoiseHandshake) hs = NULL;

    hs = companion_noise_handshake_new (IKPSK2, INITIATOR, &error);

    g_assert_no_error (error);
    companion_noise_handshake_set_local_static (hs, k.init_s);
    companion_noise_handshake_set_psk (hs, k.psk);
    write_fails (hs, 0, COMPANION_NOISE_ERROR_MISSING_KEY);
  }
  /* KK responder without its own static key. */
  {
    g_autoptr(CompanionNoiseHandshake) hs = companion_noise_handshake_new (KK, RESPONDER, &error);
    guint8 msg[64] = { 0 };

    g_assert_no_error (error);
    companion_noise_handshake_set_remote_static (hs, k.init_s_pub);
    read_fails (hs, msg, sizeof msg, COMPANION_NOISE_ERROR_MISSING_KEY);
  }
}

/* A key the pattern does not use is refused, not silently ignored. */
static void
test_unexpected_keys (void)
{
  Keys k;

  keys_generate (&k);

  {
    g_autoptr(CompanionNoiseHandshake) hs = new_handshake (KK, INITIATOR, &k);

    companion_noise_handshake_set_psk (hs, k.psk);
    write_fails (hs, 0, COMPANION_NOISE_ERROR_WRONG_STATE);
  }
  {
    /* The IKpsk2 responder learns the initiator's key from message 1. */
    g_autoptr(CompanionNoiseHandshake) initiator = new_handshake (IKPSK2, INITIATOR, &k);
    g_autoptr(CompanionNoiseHandshake) responder = new_handshake (IKPSK2, RESPONDER, &k);
    g_autoptr(GByteArray) msg1 = write_ok (initiator, "");

    companion_noise_handshake_set_remote_static (responder, k.init_s_pub);
    read_fails (responder, msg1->data, msg1->len, COMPANION_NOISE_ERROR_WRONG_STATE);
  }
}

/* All-zero DH results (low-order points) are refused. */
static void
test_low_order_keys (void)
{
  /* u = 0 (order 2) and u = 1 (order 4): X25519 scalars are multiples of 8,
   * so both give an all-zero result. */
  static const guint8 low_order[][KEY_LEN] = {
    { 0 },
    { 1 },
  };
  Keys k;

  keys_generate (&k);

  for (guint i = 0; i < G_N_ELEMENTS (low_order); i++)
    {
      /* As the responder's static key (a forged QR). */
      {
        g_autoptr(CompanionNoiseHandshake) hs = NULL;
        g_autoptr(GByteArray) msg = g_byte_array_new ();
        g_autoptr(GError) error = NULL;

        hs = companion_noise_handshake_new (IKPSK2, INITIATOR, &error);
        g_assert_no_error (error);
        companion_noise_handshake_set_local_static (hs, k.init_s);
        companion_noise_handshake_set_remote_static (hs, low_order[i]);
        companion_noise_handshake_set_psk (hs, k.psk);
        g_assert_false (companion_noise_handshake_write_message (hs, NULL, 0, msg, &error));
        g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_INVALID_KEY);
        g_assert_cmpuint (msg->len, ==, 0);
        g_clear_error (&error);
        /* The handshake is aborted. */
        g_assert_false (companion_noise_handshake_write_message (hs, NULL, 0, msg, &error));
        g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE);
      }
      /* As the initiator's ephemeral key in message 1. */
      {
        g_autoptr(CompanionNoiseHandshake) responder = new_handshake (KK, RESPONDER, &k);
        guint8 msg[32 + 16] = { 0 };

        memcpy (msg, low_order[i], KEY_LEN);
        read_fails (responder, msg, sizeof msg, COMPANION_NOISE_ERROR_INVALID_KEY);
      }
    }
}

static void
test_protocol_names (void)
{
  static const char *supported[] = {
    "Noise_NN_25519_ChaChaPoly_BLAKE2b",
    "Noise_KK_25519_ChaChaPoly_BLAKE2b",
    "Noise_IK_25519_ChaChaPoly_BLAKE2b",
    "Noise_XX_25519_ChaChaPoly_BLAKE2b",
    "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b",
    "Noise_KKpsk0_25519_ChaChaPoly_BLAKE2b",
    "Noise_KKpsk2_25519_ChaChaPoly_BLAKE2b",
  };
  static const char *unsupported[] = {
    "",
    "Noise_",
    "Noise__25519_ChaChaPoly_BLAKE2b",
    "Noise_XK_25519_ChaChaPoly_BLAKE2b",
    "Noise_ikpsk2_25519_ChaChaPoly_BLAKE2b",
    "Noise_KK_448_ChaChaPoly_BLAKE2b",
    "Noise_KK_25519_AESGCM_BLAKE2b",
    "Noise_KK_25519_ChaChaPoly_SHA256",
    "Noise_KK_25519_ChaChaPoly_BLAKE2s",
    "Noise_KK_25519_ChaChaPoly_BLAKE2b ",
    "NoisePSK_KK_25519_ChaChaPoly_BLAKE2b",
    "Noise_KKpsk0+psk2_25519_ChaChaPoly_BLAKE2b",
  };
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (supported); i++)
    {
      g_autoptr(CompanionNoiseHandshake) hs = NULL;
      g_autoptr(CompanionNoiseHandshake) same = NULL;
      g_autofree char *name = NULL;

      hs = companion_noise_handshake_new_from_name (supported[i], RESPONDER, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (companion_noise_handshake_get_protocol_name (hs), ==, supported[i]);
      g_assert_cmpint (companion_noise_handshake_get_role (hs), ==, RESPONDER);
      g_object_get (hs, "protocol-name", &name, NULL);
      g_assert_cmpstr (name, ==, supported[i]);

      same = companion_noise_handshake_new (companion_noise_handshake_get_pattern (hs),
                                            INITIATOR, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (companion_noise_handshake_get_protocol_name (same), ==, supported[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (unsupported); i++)
    {
      g_autoptr(CompanionNoiseHandshake) hs = NULL;

      hs = companion_noise_handshake_new_from_name (unsupported[i], INITIATOR, &error);
      g_assert_null (hs);
      g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL);
      g_test_message ("expected error: %s", error->message);
      g_clear_error (&error);
    }

  {
    g_autoptr(CompanionNoiseHandshake) hs = NULL;

    hs = companion_noise_handshake_new ((CompanionNoisePattern) 99, INITIATOR, &error);

    g_assert_null (hs);
    g_assert_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  if (sodium_init () < 0)
    g_error ("sodium_init() failed");

  for (guint i = 0; i < G_N_ELEMENTS (vector_files); i++)
    {
      g_autofree char *path = g_strdup_printf ("/noise/vectors/%s", vector_files[i].file);
      g_test_add_data_func (path, &vector_files[i], test_vectors);
    }

  g_test_add_data_func ("/noise/ikpsk2/round-trip", GINT_TO_POINTER (IKPSK2), test_round_trip);
  g_test_add_data_func ("/noise/kk/round-trip", GINT_TO_POINTER (KK), test_round_trip);
  g_test_add_func ("/noise/kk/fresh-ephemerals", test_fresh_ephemerals);
  g_test_add_func ("/noise/ikpsk2/wrong-psk", test_ikpsk2_wrong_psk);
  g_test_add_func ("/noise/kkpsk0/wrong-psk", test_kkpsk0_wrong_psk);
  g_test_add_func ("/noise/ikpsk2/wrong-responder-static", test_ikpsk2_wrong_responder_static);
  g_test_add_func ("/noise/ikpsk2/wrong-prologue", test_ikpsk2_wrong_prologue);
  g_test_add_func ("/noise/kk/unknown-initiator", test_kk_unknown_initiator);
  g_test_add_func ("/noise/kk/unknown-responder", test_kk_unknown_responder);
  g_test_add_func ("/noise/message/truncated", test_truncated);
  g_test_add_func ("/noise/message/oversized", test_oversized);
  g_test_add_func ("/noise/message/tampered", test_tampered);
  g_test_add_func ("/noise/transport/replay", test_replay);
  g_test_add_func ("/noise/transport/reorder", test_reorder);
  g_test_add_func ("/noise/transport/empty-payload", test_empty_payload);
  g_test_add_func ("/noise/transport/rekey", test_rekey);
  g_test_add_func ("/noise/transport/nonce-exhausted", test_nonce_exhausted);
  g_test_add_func ("/noise/transport/in-place", test_in_place);
  g_test_add_func ("/noise/state/out-of-turn", test_out_of_turn);
  g_test_add_func ("/noise/keys/missing", test_missing_keys);
  g_test_add_func ("/noise/keys/unexpected", test_unexpected_keys);
  g_test_add_func ("/noise/keys/low-order", test_low_order_keys);
  g_test_add_func ("/noise/protocol-names", test_protocol_names);

  return g_test_run ();
}
