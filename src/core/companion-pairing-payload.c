/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-pairing-payload"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-base32.h"
#include "companion-network.h"
#include "companion-pairing-payload.h"

/* Layout: "CPN" VERSION "/" BASE32(public key | psk | address…), where an
 * address is a family byte (4 or 6), the IP in network order and the port
 * big-endian. Base32 and "/" keep the whole text in QR alphanumeric mode. */
#define PREFIX "CPN"
#define FAMILY_IPV4 4
#define FAMILY_IPV6 6

struct _CompanionPairingPayload
{
  GObject    parent_instance;

  guint      version;
  guint8     public_key[COMPANION_PAIRING_KEY_SIZE];
  guint8    *psk;        /* sodium_malloc: locked, wiped on free */
  GPtrArray *addresses;  /* GInetSocketAddress */
};

G_DEFINE_FINAL_TYPE (CompanionPairingPayload, companion_pairing_payload, G_TYPE_OBJECT)
G_DEFINE_QUARK (companion-pairing-payload-error-quark, companion_pairing_payload_error)

static gsize
address_size (GInetSocketAddress *address)
{
  GInetAddress *inet = g_inet_socket_address_get_address (address);

  return 1 + g_inet_address_get_native_size (inet) + 2;
}

gsize
companion_pairing_payload_encoded_length (GPtrArray *addresses)
{
  gsize raw = COMPANION_PAIRING_KEY_SIZE + COMPANION_PAIRING_PSK_SIZE;
  g_autofree char *header = g_strdup_printf (PREFIX "%u/", COMPANION_PAIRING_PAYLOAD_VERSION);

  for (guint i = 0; addresses != NULL && i < addresses->len; i++)
    raw += address_size (g_ptr_array_index (addresses, i));
  return strlen (header) + companion_base32_encoded_length (raw);
}

static gboolean
is_all_zero (const guint8 *data,
             gsize         len)
{
  return sodium_is_zero (data, len) == 1;
}

static gboolean
check_address (GInetSocketAddress *address,
               GError            **error)
{
  GInetAddress *inet = g_inet_socket_address_get_address (address);
  g_autofree char *text = companion_network_address_to_string (address);

  if (g_inet_socket_address_get_port (address) == 0)
    {
      g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                   COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS,
                   "The address %s has port 0, which cannot be connected to", text);
      return FALSE;
    }
  if (g_inet_address_get_is_any (inet) || g_inet_address_get_is_multicast (inet))
    {
      g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                   COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS,
                   "The address %s is not one a phone can connect to", text);
      return FALSE;
    }
  return TRUE;
}

static void
companion_pairing_payload_finalize (GObject *object)
{
  CompanionPairingPayload *self = COMPANION_PAIRING_PAYLOAD (object);

  g_clear_pointer (&self->psk, sodium_free);
  g_clear_pointer (&self->addresses, g_ptr_array_unref);

  G_OBJECT_CLASS (companion_pairing_payload_parent_class)->finalize (object);
}

static void
companion_pairing_payload_class_init (CompanionPairingPayloadClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_pairing_payload_finalize;
}

static void
companion_pairing_payload_init (CompanionPairingPayload *self)
{
  self->version = COMPANION_PAIRING_PAYLOAD_VERSION;
  self->psk = sodium_malloc (COMPANION_PAIRING_PSK_SIZE);
  g_assert (self->psk != NULL);
  self->addresses = g_ptr_array_new_with_free_func (g_object_unref);
}

CompanionPairingPayload *
companion_pairing_payload_new (const guint8 *public_key,
                               const guint8 *psk,
                               GPtrArray    *addresses,
                               GError      **error)
{
  g_autoptr(CompanionPairingPayload) self = NULL;

  g_return_val_if_fail (public_key != NULL, NULL);
  g_return_val_if_fail (psk != NULL, NULL);
  g_return_val_if_fail (addresses != NULL, NULL);

  if (is_all_zero (public_key, COMPANION_PAIRING_KEY_SIZE))
    {
      g_set_error_literal (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                           COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_KEY,
                           "The one-time public key is all zeros");
      return NULL;
    }
  if (is_all_zero (psk, COMPANION_PAIRING_PSK_SIZE))
    {
      g_set_error_literal (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                           COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_KEY,
                           "The pairing secret is all zeros");
      return NULL;
    }
  if (addresses->len == 0 || addresses->len > COMPANION_PAIRING_PAYLOAD_MAX_ADDRESSES)
    {
      g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                   COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS,
                   "A pairing code carries one or two addresses, not %u", addresses->len);
      return NULL;
    }
  if (companion_pairing_payload_encoded_length (addresses) > COMPANION_PAIRING_PAYLOAD_MAX_LENGTH)
    {
      g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                   COMPANION_PAIRING_PAYLOAD_ERROR_TOO_LONG,
                   "These addresses make the pairing code longer than %u characters",
                   COMPANION_PAIRING_PAYLOAD_MAX_LENGTH);
      return NULL;
    }

  self = g_object_new (COMPANION_TYPE_PAIRING_PAYLOAD, NULL);
  memcpy (self->public_key, public_key, COMPANION_PAIRING_KEY_SIZE);
  memcpy (self->psk, psk, COMPANION_PAIRING_PSK_SIZE);
  for (guint i = 0; i < addresses->len; i++)
    {
      GInetSocketAddress *address = g_ptr_array_index (addresses, i);

      if (!check_address (address, error))
        return NULL;
      g_ptr_array_add (self->addresses, g_object_ref (address));
    }

  return g_steal_pointer (&self);
}

static gboolean
parse_header (const char *text,
              gsize       length,
              gsize      *body_offset,
              GError    **error)
{
  gsize i = strlen (PREFIX);
  guint64 version = 0;

  if (length < i || memcmp (text, PREFIX, i) != 0)
    {
      g_set_error_literal (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                           COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION,
                           "This QR code is not a Companion pairing code");
      return FALSE;
    }

  /* Up to three digits, then '/'. */
  while (i < length && i < strlen (PREFIX) + 3 && g_ascii_isdigit (text[i]))
    version = version * 10 + (guint64) (text[i++] - '0');
  if (i == strlen (PREFIX) || i >= length || text[i] != '/')
    {
      g_set_error_literal (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                           COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION,
                           "This QR code is not a Companion pairing code (no version field)");
      return FALSE;
    }
  if (version != COMPANION_PAIRING_PAYLOAD_VERSION)
    {
      g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                   COMPANION_PAIRING_PAYLOAD_ERROR_UNSUPPORTED_VERSION,
                   "This pairing code is for protocol version %" G_GUINT64_FORMAT
                   "; this program speaks version %u",
                   version, COMPANION_PAIRING_PAYLOAD_VERSION);
      return FALSE;
    }

  *body_offset = i + 1;
  return TRUE;
}

CompanionPairingPayload *
companion_pairing_payload_parse (const char *text,
                                 gsize       length,
                                 GError    **error)
{
  g_autoptr(GByteArray) raw = NULL;
  g_autoptr(GPtrArray) addresses = NULL;
  CompanionPairingPayload *result;
  gsize offset = 0;
  gsize pos;

  g_return_val_if_fail (text != NULL || length == 0, NULL);

  if (!parse_header (text, length, &offset, error))
    return NULL;

  if (length > COMPANION_PAIRING_PAYLOAD_MAX_LENGTH)
    {
      g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                   COMPANION_PAIRING_PAYLOAD_ERROR_TOO_LONG,
                   "The pairing code is %" G_GSIZE_FORMAT " characters long; at most %u are allowed",
                   length, COMPANION_PAIRING_PAYLOAD_MAX_LENGTH);
      return NULL;
    }

  raw = g_byte_array_sized_new (length);
  if (!companion_base32_decode (text + offset, length - offset, raw))
    {
      g_set_error_literal (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                           COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ENCODING,
                           "The pairing code is damaged: its body is not valid base32");
      sodium_memzero (raw->data, raw->len);
      return NULL;
    }

  if (raw->len < COMPANION_PAIRING_KEY_SIZE + COMPANION_PAIRING_PSK_SIZE)
    {
      g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                   COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_LENGTH,
                   "The pairing code is truncated: %u bytes where at least %u are needed",
                   raw->len, COMPANION_PAIRING_KEY_SIZE + COMPANION_PAIRING_PSK_SIZE);
      sodium_memzero (raw->data, raw->len);
      return NULL;
    }

  addresses = g_ptr_array_new_with_free_func (g_object_unref);
  pos = COMPANION_PAIRING_KEY_SIZE + COMPANION_PAIRING_PSK_SIZE;
  while (pos < raw->len)
    {
      guint8 family = raw->data[pos];
      gsize ip_size = family == FAMILY_IPV4 ? 4 : family == FAMILY_IPV6 ? 16 : 0;
      g_autoptr(GInetAddress) inet = NULL;
      guint16 port;

      if (ip_size == 0)
        {
          g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                       COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS,
                       "Address %u in the pairing code has an unknown family (%u)",
                       addresses->len + 1, family);
          break;
        }
      if (raw->len - pos < 1 + ip_size + 2)
        {
          g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                       COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_LENGTH,
                       "Address %u in the pairing code is truncated", addresses->len + 1);
          break;
        }
      if (addresses->len == COMPANION_PAIRING_PAYLOAD_MAX_ADDRESSES)
        {
          g_set_error (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                       COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS,
                       "The pairing code lists more than %u addresses",
                       COMPANION_PAIRING_PAYLOAD_MAX_ADDRESSES);
          break;
        }
      inet = g_inet_address_new_from_bytes (raw->data + pos + 1,
                                            family == FAMILY_IPV4 ? G_SOCKET_FAMILY_IPV4
                                                                  : G_SOCKET_FAMILY_IPV6);
      port = (guint16) ((raw->data[pos + 1 + ip_size] << 8) | raw->data[pos + 2 + ip_size]);
      g_ptr_array_add (addresses, g_inet_socket_address_new (inet, port));
      pos += 1 + ip_size + 2;
    }

  if (pos == raw->len && addresses->len == 0)
    g_set_error_literal (error, COMPANION_PAIRING_PAYLOAD_ERROR,
                         COMPANION_PAIRING_PAYLOAD_ERROR_INVALID_ADDRESS,
                         "The pairing code lists no address to connect to");

  result = NULL;
  if (pos == raw->len && addresses->len > 0)
    result = companion_pairing_payload_new (raw->data,
                                            raw->data + COMPANION_PAIRING_KEY_SIZE,
                                            addresses, error);
  sodium_memzero (raw->data, raw->len);
  return result;
}

char *
companion_pairing_payload_to_string (CompanionPairingPayload *self)
{
  g_autoptr(GByteArray) raw = NULL;
  g_autofree char *body = NULL;
  gsize text_len;
  char *text;

  g_return_val_if_fail (COMPANION_IS_PAIRING_PAYLOAD (self), NULL);

  /* Sized for the longest payload up front: growing it would free a copy
   * of the secret without wiping it. */
  raw = g_byte_array_sized_new (COMPANION_PAIRING_KEY_SIZE + COMPANION_PAIRING_PSK_SIZE +
                                COMPANION_PAIRING_PAYLOAD_MAX_ADDRESSES * (1 + 16 + 2));
  g_byte_array_append (raw, self->public_key, COMPANION_PAIRING_KEY_SIZE);
  g_byte_array_append (raw, self->psk, COMPANION_PAIRING_PSK_SIZE);
  for (guint i = 0; i < self->addresses->len; i++)
    {
      GInetSocketAddress *address = g_ptr_array_index (self->addresses, i);
      GInetAddress *inet = g_inet_socket_address_get_address (address);
      guint16 port = g_inet_socket_address_get_port (address);
      guint8 family = g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV4 ? FAMILY_IPV4
                                                                                : FAMILY_IPV6;
      guint8 port_be[2] = { port >> 8, port & 0xff };

      g_byte_array_append (raw, &family, 1);
      g_byte_array_append (raw, g_inet_address_to_bytes (inet),
                           g_inet_address_get_native_size (inet));
      g_byte_array_append (raw, port_be, 2);
    }

  body = companion_base32_encode (raw->data, raw->len);
  sodium_memzero (raw->data, raw->len);
  /* Formatted in place: g_strdup_printf() would grow buffers of its own. */
  text_len = strlen (PREFIX) + 3 + 1 + strlen (body) + 1;
  text = g_malloc (text_len);
  g_snprintf (text, text_len, PREFIX "%u/%s", self->version, body);
  sodium_memzero (body, strlen (body));
  return text;
}

guint
companion_pairing_payload_get_version (CompanionPairingPayload *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_PAYLOAD (self), 0);
  return self->version;
}

const guint8 *
companion_pairing_payload_get_public_key (CompanionPairingPayload *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_PAYLOAD (self), NULL);
  return self->public_key;
}

const guint8 *
companion_pairing_payload_get_psk (CompanionPairingPayload *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_PAYLOAD (self), NULL);
  return self->psk;
}

GPtrArray *
companion_pairing_payload_get_addresses (CompanionPairingPayload *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_PAYLOAD (self), NULL);
  return self->addresses;
}

/* Short, printable digests so people and logs can tell codes apart without
 * ever seeing the secret itself. */
static char *
fingerprint (const guint8 *data,
             gsize         len,
             const char   *personal)
{
  guint8 digest[6];
  guint8 key[16] = { 0 };

  crypto_generichash_blake2b_salt_personal (digest, sizeof digest, data, len, NULL, 0,
                                            key, (const guint8 *) personal);
  return g_strdup_printf ("%02x%02x-%02x%02x-%02x%02x",
                          digest[0], digest[1], digest[2], digest[3], digest[4], digest[5]);
}

char *
companion_pairing_payload_dup_key_fingerprint (CompanionPairingPayload *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_PAYLOAD (self), NULL);
  return fingerprint (self->public_key, COMPANION_PAIRING_KEY_SIZE, "cpn-key-fp-v1\0\0\0");
}

char *
companion_pairing_payload_dup_psk_fingerprint (CompanionPairingPayload *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_PAYLOAD (self), NULL);
  return fingerprint (self->psk, COMPANION_PAIRING_PSK_SIZE, "cpn-psk-fp-v1\0\0\0");
}

CompanionPairingPayload *
companion_pairing_payload_parse_scanned (GPtrArray *symbols,
                                         GError   **error)
{
  g_autoptr(GError) first_error = NULL;

  g_return_val_if_fail (symbols != NULL, NULL);

  for (guint i = 0; i < symbols->len; i++)
    {
      GBytes *data = g_ptr_array_index (symbols, i);
      g_autoptr(GError) local_error = NULL;
      gsize len = 0;
      const char *text = g_bytes_get_data (data, &len);
      CompanionPairingPayload *payload = companion_pairing_payload_parse (text, len, &local_error);

      if (payload != NULL)
        return payload;
      /* A Companion code that failed says more than a foreign one. */
      if (first_error == NULL ||
          (g_error_matches (first_error, COMPANION_PAIRING_PAYLOAD_ERROR,
                            COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION) &&
           !g_error_matches (local_error, COMPANION_PAIRING_PAYLOAD_ERROR,
                             COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION)))
        {
          g_clear_error (&first_error);
          first_error = g_steal_pointer (&local_error);
        }
    }

  if (first_error == NULL)
    g_set_error_literal (&first_error, COMPANION_PAIRING_PAYLOAD_ERROR,
                         COMPANION_PAIRING_PAYLOAD_ERROR_NOT_COMPANION,
                         "No QR code was given");
  g_propagate_error (error, g_steal_pointer (&first_error));
  return NULL;
}
