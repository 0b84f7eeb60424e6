/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-base32.h"
#include "companion-core.h"
#include "companion-network.h"
#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"

static GPtrArray *
make_addresses (const char *first, ...)
{
  GPtrArray *list = g_ptr_array_new_with_free_func (g_object_unref);
  va_list args;

  va_start (args, first);
  for (const char *text = first; text != NULL; text = va_arg (args, const char *))
    {
      g_autoptr(GError) error = NULL;
      GInetSocketAddress *address = companion_network_parse_listen_address (text, &error);

      g_assert_no_error (error);
      g_ptr_array_add (list, address);
    }
  va_end (args);
  return list;
}

static void
fill_keys (guint8 *key,
           guint8 *psk)
{
  for (guint i = 0; i < 32; i++)
    {
      key[i] = (guint8) (i * 7 + 1);
      psk[i] = (guint8) (255 - i * 3);
    }
}

/* The raw text for a payload body of RAW bytes, with any header. */
static char *
text_with_body (const char   *header,
                const guint8 *raw,
                gsize         len)
{
  g_autofree char *body = companion_base32_encode (raw, len);
  return g_strconcat (header, body, NULL);
}

static void
assert_parse_error (const char *text,
                    int         code)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPairingPayload) payload = companion_pairing_payload_parse (text, strlen (text), &error);

  g_assert_null (payload);
  g_assert_error (error, COMPANION_PAIRING_PAYLOAD_ERROR, code);
  g_assert_nonnull (error->message);
  g_assert_cmpuint (strlen (error->message), >, 10);
}

static void
test_round_trip (void)
{
  const char *cases[][2] = {
    { "192.168.1.20:47390", NULL },
    { "10.0.0.1:1", "172.16.5.4:65535" },
    { "[2001:db8::1]:47390", NULL },
    { "255.255.255.254:65535", "[2001:db8:ffff:ffff:ffff:ffff:ffff:fffe]:65535" },
  };
  guint8 key[32], psk[32];

  fill_keys (key, psk);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) addresses = make_addresses (cases[i][0], cases[i][1], NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(CompanionPairingPayload) payload = companion_pairing_payload_new (key, psk, addresses, &error);
      g_autoptr(CompanionPairingPayload) parsed = NULL;
      g_autofree char *text = NULL;
      GPtrArray *got;

      g_assert_no_error (error);
      text = companion_pairing_payload_to_string (payload);
      g_assert_true (g_str_has_prefix (text, "CPN1/"));
      g_assert_cmpuint (strlen (text), <=, COMPANION_PAIRING_PAYLOAD_MAX_LENGTH);
      g_assert_cmpuint (strlen (text), ==, companion_pairing_payload_encoded_length (addresses));
      /* Only characters of the QR alphanumeric set. */
      for (const char *c = text; *c; c++)
        g_assert_nonnull (strchr ("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:", *c));

      parsed = companion_pairing_payload_parse (text, strlen (text), &error);
      g_assert_no_error (error);
      g_assert_cmpuint (companion_pairing_payload_get_version (parsed), ==, 1);
      g_assert_cmpmem (companion_pairing_payload_get_public_key (parsed), 32, key, 32);
      g_assert_cmpmem (companion_pairing_payload_get_psk (parsed), 32, psk, 32);
      got = companion_pairing_payload_get_addresses (parsed);
      g_assert_cmpuint (got->len, ==, addresses->len);
      for (guint j = 0; j < got->len; j++)
        {
          g_autofree char *a = companion_network_address_to_string (g_ptr_array_index (got, j));
          g_autofree char *b = companion_network_address_to_string (g_ptr_array_index (addresses, j));
          g_assert_cmpstr (a, ==, b);
        }
    }
}

static void
test_offer (void)
{
  g_autoptr(GPtrArray) addresses = make_addresses ("192.168.1.20:47390", "[2001:db8::1]:47390",
                                                   "[2001:db8::2]:47390", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(CompanionPairingOffer) offer = companion_pairing_offer_new (addresses, &error);
  g_autoptr(CompanionPairingOffer) other = companion_pairing_offer_new (addresses, &error);
  CompanionPairingPayload *payload;
  guint8 derived[32];

  g_assert_no_error (error);
  payload = companion_pairing_offer_get_payload (offer);
  /* The public key is the secret key's, and two offers share nothing. */
  crypto_scalarmult_base (derived, companion_pairing_offer_get_secret_key (offer));
  g_assert_cmpmem (derived, 32, companion_pairing_payload_get_public_key (payload), 32);
  g_assert_true (memcmp (companion_pairing_payload_get_psk (payload),
                         companion_pairing_payload_get_psk (companion_pairing_offer_get_payload (other)), 32) != 0);
  /* Two addresses at most, and both IPv6 would not fit: the second is skipped. */
  g_assert_cmpuint (companion_pairing_payload_get_addresses (payload)->len, ==, 2);
  g_assert_cmpuint (companion_pairing_payload_encoded_length (companion_pairing_payload_get_addresses (payload)),
                    <=, COMPANION_PAIRING_PAYLOAD_MAX_LENGTH);
}

static void
test_foreign_and_version (void)
{
  assert_parse_error ("", COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
  assert_parse_error ("https://example.org/", COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
  assert_parse_error ("WIFI:S:home;T:WPA;P:secret;;", COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
  assert_parse_error ("CPN", COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
  assert_parse_error ("CPN/", COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
  assert_parse_error ("CPNX/AAAA", COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
  assert_parse_error ("CPN1234/AAAA", COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
  assert_parse_error ("CPN2/AAAAAAAA", COMPANION_PAIRING_PAYLOAD_ERROR_UNSUPPORTED_VERSION);
  assert_parse_error ("CPN0/AAAAAAAA", COMPANION_PAIRING_PAYLOAD_ERROR_UNSUPPORTED_VERSION);
  assert_parse_error ("CPN999/AAAAAAAA", COMPANION_PAIRING_PAYLOAD_ERROR_UNSUPPORTED_VERSION);
}

static void
test_malformed (void)
{
  guint8 raw[64 + 7 + 7 + 7];
  g_autofree char *text = NULL;
  g_autofree char *long_text = NULL;

  fill_keys (raw, raw + 32);
  raw[64] = 4; raw[65] = 192; raw[66] = 168; raw[67] = 1; raw[68] = 2; raw[69] = 0xb9; raw[70] = 0x1e;
  memcpy (raw + 71, raw + 64, 7);
  memcpy (raw + 78, raw + 64, 7);

  /* Encoding. */
  assert_parse_error ("CPN1/", COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_LENGTH);
  assert_parse_error ("CPN1/abcdefgh", COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING);
  assert_parse_error ("CPN1/AAAAAAA1", COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING);
  assert_parse_error ("CPN1/AAAA=AAA", COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING);
  assert_parse_error ("CPN1/A", COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING);
  assert_parse_error ("CPN1/AB", COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING); /* non-zero tail bits */
  {
    const char nul_inside[] = "CPN1/AA\0AAAAA";
    g_autoptr(GError) error = NULL;
    g_assert_null (companion_pairing_payload_parse (nul_inside, sizeof nul_inside - 1, &error));
    g_assert_error (error, COMPANION_PAIRING_PAYLOAD_ERROR, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING);
  }

  /* Lengths. */
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 63);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_LENGTH);
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 64);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS); /* no address */
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 70);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_LENGTH); /* truncated address */
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 85);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS); /* three addresses */
  long_text = g_strnfill (151, 'A');
  memcpy (long_text, "CPN1/", 5);
  assert_parse_error (long_text, COMPANION_PAIRING_PAYLOAD_ERROR_TOO_LONG);

  /* Address contents. */
  raw[64] = 5;
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 71);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS); /* family */
  raw[64] = 4; raw[69] = 0; raw[70] = 0;
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 71);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS); /* port 0 */
  raw[65] = raw[66] = raw[67] = raw[68] = 0; raw[70] = 1;
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 71);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS); /* 0.0.0.0 */
  raw[65] = 224; raw[68] = 1;
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 71);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS); /* multicast */

  /* Keys. */
  raw[65] = 192;
  memset (raw, 0, 32);
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 71);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_KEY);
  fill_keys (raw, raw + 32);
  memset (raw + 32, 0, 32);
  g_clear_pointer (&text, g_free);
  text = text_with_body ("CPN1/", raw, 71);
  assert_parse_error (text, COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_KEY);
}

static void
test_errors_hold_no_secret (void)
{
  guint8 key[32], psk[32];
  g_autoptr(GPtrArray) addresses = make_addresses ("192.168.1.20:47390", NULL);
  g_autoptr(CompanionPairingPayload) payload = NULL;
  g_autofree char *text = NULL;
  g_autofree char *psk_b32 = NULL;
  g_autofree char *psk_fp = NULL;
  g_autofree char *key_fp = NULL;
  g_autoptr(GError) error = NULL;

  fill_keys (key, psk);
  payload = companion_pairing_payload_new (key, psk, addresses, &error);
  g_assert_no_error (error);
  text = companion_pairing_payload_to_string (payload);

  /* Damage the last character: the error must not echo the text back. */
  text[strlen (text) - 1] = '1';
  g_assert_null (companion_pairing_payload_parse (text, strlen (text), &error));
  g_assert_nonnull (error);
  g_assert_null (strstr (error->message, text + 5));
  g_assert_null (strstr (error->message, "CPN1/"));

  psk_fp = companion_pairing_payload_dup_psk_fingerprint (payload);
  key_fp = companion_pairing_payload_dup_key_fingerprint (payload);
  psk_b32 = companion_base32_encode (psk, 32);
  g_assert_cmpuint (strlen (psk_fp), ==, 14);
  g_assert_cmpstr (psk_fp, !=, key_fp);
  g_assert_null (strstr (psk_b32, psk_fp));
}

static GPtrArray *
symbols (const char *first, ...)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  va_list args;

  va_start (args, first);
  for (const char *text = first; text != NULL; text = va_arg (args, const char *))
    g_ptr_array_add (list, g_bytes_new (text, strlen (text)));
  va_end (args);
  return list;
}

static void
test_parse_scanned (void)
{
  guint8 key[32], psk[32];
  g_autoptr(GPtrArray) addresses = make_addresses ("192.168.1.20:47390", NULL);
  g_autoptr(CompanionPairingPayload) payload = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *good = NULL;

  fill_keys (key, psk);
  payload = companion_pairing_payload_new (key, psk, addresses, &error);
  good = companion_pairing_payload_to_string (payload);

  {
    g_autoptr(GPtrArray) list = symbols ("https://example.org", good, NULL);
    g_autoptr(CompanionPairingPayload) found = companion_pairing_payload_parse_scanned (list, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (companion_pairing_payload_get_psk (found), 32, psk, 32);
  }
  {
    /* A Companion code of another version says more than a foreign one. */
    g_autoptr(GPtrArray) list = symbols ("https://example.org", "CPN7/AAAAAAAA", NULL);
    g_assert_null (companion_pairing_payload_parse_scanned (list, &error));
    g_assert_error (error, COMPANION_PAIRING_PAYLOAD_ERROR, COMPANION_PAIRING_PAYLOAD_ERROR_UNSUPPORTED_VERSION);
    g_clear_error (&error);
  }
  {
    g_autoptr(GPtrArray) list = symbols ("hello", NULL);
    g_assert_null (companion_pairing_payload_parse_scanned (list, &error));
    g_assert_error (error, COMPANION_PAIRING_PAYLOAD_ERROR, COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION);
    g_clear_error (&error);
  }
}

static void
test_base32 (void)
{
  /* RFC 4648 section 10 vectors, without padding. */
  const char *vectors[][2] = {
    { "", "" }, { "f", "MY" }, { "fo", "MZXQ" }, { "foo", "MZXW6" },
    { "foob", "MZXW6YQ" }, { "fooba", "MZXW6YTB" }, { "foobar", "MZXW6YTBOI" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autofree char *encoded = companion_base32_encode ((const guint8 *) vectors[i][0], strlen (vectors[i][0]));
      g_autoptr(GByteArray) decoded = g_byte_array_new ();

      g_assert_cmpstr (encoded, ==, vectors[i][1]);
      g_assert_true (companion_base32_decode (encoded, strlen (encoded), decoded));
      g_assert_cmpmem (decoded->data, decoded->len, vectors[i][0], strlen (vectors[i][0]));
    }
}

static void
test_listen_address (void)
{
  const char *good[] = { "0.0.0.0:47390", "127.0.0.1:0", "[::]:1", "[::1]:65535" };
  const char *bad[] = { "", ":", "localhost:80", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536",
                        "1.2.3.4:-1", "1.2.3.4:8a", "::1:80", "[::1]80", "[::1", "[x]:1", "1.2.3.4:80 " };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) address = companion_network_parse_listen_address (good[i], &error);
      g_autofree char *back = NULL;

      g_assert_no_error (error);
      back = companion_network_address_to_string (address);
      g_assert_cmpstr (back, ==, good[i]);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GInetSocketAddress) address = companion_network_parse_listen_address (bad[i], &error);

      g_assert_null (address);
      g_assert_nonnull (error);
      g_assert_true (error->domain == COMPANION_NETWORK_ERROR);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  g_assert_true (companion_core_init (NULL));

  g_test_add_func ("/pairing-payload/round-trip", test_round_trip);
  g_test_add_func ("/pairing-payload/offer", test_offer);
  g_test_add_func ("/pairing-payload/foreign-and-version", test_foreign_and_version);
  g_test_add_func ("/pairing-payload/malformed", test_malformed);
  g_test_add_func ("/pairing-payload/errors-hold-no-secret", test_errors_hold_no_secret);
  g_test_add_func ("/pairing-payload/parse-scanned", test_parse_scanned);
  g_test_add_func ("/pairing-payload/base32", test_base32);
  g_test_add_func ("/network/listen-address", test_listen_address);

  return g_test_run ();
}
