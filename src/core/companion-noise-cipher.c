/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-noise"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-noise-cipher.h"
#include "companion-noise.h"

#define NONCE_MAX G_MAXUINT64

struct _CompanionNoiseCipher
{
  GObject parent_instance;

  guint8 *key;     /* COMPANION_NOISE_KEY_LEN bytes, sodium_malloc()'d */
  guint64 nonce;
};

G_DEFINE_FINAL_TYPE (CompanionNoiseCipher, companion_noise_cipher, G_TYPE_OBJECT)

G_STATIC_ASSERT (COMPANION_NOISE_KEY_LEN == crypto_aead_chacha20poly1305_ietf_KEYBYTES);
G_STATIC_ASSERT (COMPANION_NOISE_TAG_LEN == crypto_aead_chacha20poly1305_ietf_ABYTES);
G_STATIC_ASSERT (crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12);
G_STATIC_ASSERT (COMPANION_NOISE_MAX_PAYLOAD_LEN ==
                 COMPANION_NOISE_MAX_MESSAGE_LEN - COMPANION_NOISE_TAG_LEN);

/* Noise: 32 bits of zeros followed by the 64-bit little-endian counter. */
static void
format_nonce (guint64 n,
              guint8  out[crypto_aead_chacha20poly1305_ietf_NPUBBYTES])
{
  memset (out, 0, 4);
  for (guint i = 0; i < 8; i++)
    out[4 + i] = (guint8) (n >> (8 * i));
}

static void
companion_noise_cipher_finalize (GObject *object)
{
  CompanionNoiseCipher *self = (CompanionNoiseCipher *)object;

  /* sodium_free() wipes the key before releasing it. */
  g_clear_pointer (&self->key, sodium_free);
  self->nonce = 0;

  G_OBJECT_CLASS (companion_noise_cipher_parent_class)->finalize (object);
}

static void
companion_noise_cipher_class_init (CompanionNoiseCipherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = companion_noise_cipher_finalize;
}

static void
companion_noise_cipher_init (CompanionNoiseCipher *self)
{
  self->key = sodium_malloc (COMPANION_NOISE_KEY_LEN);
  if (self->key == NULL)
    g_error ("Could not allocate secure memory for a Noise cipher key");
  sodium_memzero (self->key, COMPANION_NOISE_KEY_LEN);
}

/**
 * companion_noise_cipher_new:
 * @key: the 32-byte ChaChaPoly key; copied
 *
 * Returns: (transfer full): a cipher whose counter starts at 0
 */
CompanionNoiseCipher *
companion_noise_cipher_new (const guint8 *key)
{
  CompanionNoiseCipher *self;

  g_return_val_if_fail (key != NULL, NULL);

  self = g_object_new (COMPANION_TYPE_NOISE_CIPHER, NULL);
  memcpy (self->key, key, COMPANION_NOISE_KEY_LEN);

  return self;
}

static gboolean
check_nonce (CompanionNoiseCipher  *self,
             GError               **error)
{
  if (self->nonce == NONCE_MAX)
    {
      g_set_error_literal (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_NONCE_EXHAUSTED,
                           "Noise cipher nonce exhausted: rekeying does not reset it, "
                           "a new handshake is needed");
      return FALSE;
    }
  return TRUE;
}

/* Checks shared by every way of encrypting. */
static gboolean
check_encrypt (CompanionNoiseCipher  *self,
               gsize                  len,
               GError               **error)
{
  if (len > COMPANION_NOISE_MAX_PAYLOAD_LEN)
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH,
                   "Payload of %" G_GSIZE_FORMAT " bytes is too long for one Noise message "
                   "(at most %d bytes)", len, COMPANION_NOISE_MAX_PAYLOAD_LEN);
      return FALSE;
    }

  return check_nonce (self, error);
}

/* OUT has room for LEN + tag bytes and may be PLAINTEXT itself: the stream
 * cipher XORs in place and the tag is computed over the ciphertext. */
static void
encrypt_raw (CompanionNoiseCipher *self,
             const guint8         *ad,
             gsize                 ad_len,
             const guint8         *plaintext,
             gsize                 len,
             guint8               *out)
{
  guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  unsigned long long written = 0;

  format_nonce (self->nonce, nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt (out, &written, plaintext, len, ad, ad_len,
                                             NULL, nonce, self->key);
  g_assert (written == len + COMPANION_NOISE_TAG_LEN);
  self->nonce++;
}

/* Checks shared by every way of decrypting. */
static gboolean
check_decrypt (CompanionNoiseCipher  *self,
               gsize                  len,
               GError               **error)
{
  if (len < COMPANION_NOISE_TAG_LEN)
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH,
                   "Noise ciphertext of %" G_GSIZE_FORMAT " bytes is shorter than its "
                   "%d-byte authentication tag", len, COMPANION_NOISE_TAG_LEN);
      return FALSE;
    }

  if (len > COMPANION_NOISE_MAX_MESSAGE_LEN)
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH,
                   "Noise ciphertext of %" G_GSIZE_FORMAT " bytes is longer than the "
                   "%d-byte message limit", len, COMPANION_NOISE_MAX_MESSAGE_LEN);
      return FALSE;
    }

  return check_nonce (self, error);
}

/* OUT has room for LEN - tag bytes; on failure it is wiped and the counter
 * stays. */
static gboolean
decrypt_raw (CompanionNoiseCipher  *self,
             const guint8          *ad,
             gsize                  ad_len,
             const guint8          *ciphertext,
             gsize                  len,
             guint8                *out,
             GError               **error)
{
  guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  unsigned long long written = 0;
  gsize plain_len = len - COMPANION_NOISE_TAG_LEN;

  format_nonce (self->nonce, nonce);
  if (crypto_aead_chacha20poly1305_ietf_decrypt (out, &written, NULL, ciphertext, len,
                                                 ad, ad_len, nonce, self->key) != 0)
    {
      if (out != NULL)
        sodium_memzero (out, plain_len);
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_DECRYPT_FAILED,
                   "Noise message %" G_GUINT64_FORMAT " failed authentication "
                   "(wrong key, or a tampered, replayed, reordered or dropped message)",
                   self->nonce);
      return FALSE;
    }
  g_assert (written == plain_len);
  self->nonce++;
  return TRUE;
}

gboolean
_companion_noise_cipher_encrypt_with_ad (CompanionNoiseCipher  *self,
                                         const guint8          *ad,
                                         gsize                  ad_len,
                                         const guint8          *plaintext,
                                         gsize                  len,
                                         GByteArray            *out,
                                         GError               **error)
{
  guint old_len;

  g_return_val_if_fail (COMPANION_IS_NOISE_CIPHER (self), FALSE);
  g_return_val_if_fail (ad != NULL || ad_len == 0, FALSE);
  g_return_val_if_fail (plaintext != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_encrypt (self, len, error))
    return FALSE;

  old_len = out->len;
  g_byte_array_set_size (out, old_len + len + COMPANION_NOISE_TAG_LEN);
  encrypt_raw (self, ad, ad_len, plaintext, len, out->data + old_len);
  return TRUE;
}

gboolean
_companion_noise_cipher_decrypt_with_ad (CompanionNoiseCipher  *self,
                                         const guint8          *ad,
                                         gsize                  ad_len,
                                         const guint8          *ciphertext,
                                         gsize                  len,
                                         GByteArray            *out,
                                         GError               **error)
{
  guint old_len;

  g_return_val_if_fail (COMPANION_IS_NOISE_CIPHER (self), FALSE);
  g_return_val_if_fail (ad != NULL || ad_len == 0, FALSE);
  g_return_val_if_fail (ciphertext != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_decrypt (self, len, error))
    return FALSE;

  old_len = out->len;
  g_byte_array_set_size (out, old_len + len - COMPANION_NOISE_TAG_LEN);
  /* An empty payload into an empty array has no buffer: out->data is NULL,
   * and NULL + 0 is undefined. libsodium then only checks the tag. */
  if (!decrypt_raw (self, ad, ad_len, ciphertext, len,
                    len > COMPANION_NOISE_TAG_LEN ? out->data + old_len : NULL, error))
    {
      g_byte_array_set_size (out, old_len);
      return FALSE;
    }
  return TRUE;
}

/**
 * companion_noise_cipher_encrypt_in_place:
 * @self: a #CompanionNoiseCipher
 * @buffer: (array length=len): @len bytes of plaintext followed by room for
 *   %COMPANION_NOISE_TAG_LEN more
 * @len: length of the plaintext, at most %COMPANION_NOISE_MAX_PAYLOAD_LEN
 * @error: return location for a #GError
 *
 * Encrypts one transport message with the next nonce, replacing the
 * plaintext by the ciphertext and its tag: the same bytes as
 * companion_noise_cipher_encrypt(), without a second buffer.
 *
 * Returns: %TRUE on success; on failure @buffer is unchanged
 */
gboolean
companion_noise_cipher_encrypt_in_place (CompanionNoiseCipher  *self,
                                         guint8                *buffer,
                                         gsize                  len,
                                         GError               **error)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_CIPHER (self), FALSE);
  g_return_val_if_fail (buffer != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_encrypt (self, len, error))
    return FALSE;
  encrypt_raw (self, NULL, 0, buffer, len, buffer);
  return TRUE;
}

/**
 * companion_noise_cipher_decrypt_into:
 * @self: a #CompanionNoiseCipher
 * @ciphertext: (array length=len): one transport message
 * @len: length of @ciphertext
 * @out: room for @len - %COMPANION_NOISE_TAG_LEN bytes of plaintext
 * @error: return location for a #GError
 *
 * As companion_noise_cipher_decrypt(), into a buffer the caller sized.
 *
 * Returns: %TRUE on success; on failure @out holds zeros
 */
gboolean
companion_noise_cipher_decrypt_into (CompanionNoiseCipher  *self,
                                     const guint8          *ciphertext,
                                     gsize                  len,
                                     guint8                *out,
                                     GError               **error)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_CIPHER (self), FALSE);
  g_return_val_if_fail (ciphertext != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL || len <= COMPANION_NOISE_TAG_LEN, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_decrypt (self, len, error))
    return FALSE;
  return decrypt_raw (self, NULL, 0, ciphertext, len, out, error);
}

/**
 * companion_noise_cipher_encrypt:
 * @self: a #CompanionNoiseCipher
 * @plaintext: (array length=len) (nullable): bytes to encrypt
 * @len: length of @plaintext, at most %COMPANION_NOISE_MAX_PAYLOAD_LEN
 * @out: buffer the ciphertext is appended to
 * @error: return location for a #GError
 *
 * Encrypts one transport message with the next nonce.
 *
 * Returns: %TRUE on success
 */
gboolean
companion_noise_cipher_encrypt (CompanionNoiseCipher  *self,
                                const guint8          *plaintext,
                                gsize                  len,
                                GByteArray            *out,
                                GError               **error)
{
  return _companion_noise_cipher_encrypt_with_ad (self, NULL, 0, plaintext, len, out, error);
}

/**
 * companion_noise_cipher_decrypt:
 * @self: a #CompanionNoiseCipher
 * @ciphertext: (array length=len): one transport message
 * @len: length of @ciphertext
 * @out: buffer the plaintext is appended to
 * @error: return location for a #GError
 *
 * Decrypts and authenticates one transport message with the next nonce.
 *
 * Returns: %TRUE on success
 */
gboolean
companion_noise_cipher_decrypt (CompanionNoiseCipher  *self,
                                const guint8          *ciphertext,
                                gsize                  len,
                                GByteArray            *out,
                                GError               **error)
{
  return _companion_noise_cipher_decrypt_with_ad (self, NULL, 0, ciphertext, len, out, error);
}

/**
 * companion_noise_cipher_rekey:
 * @self: a #CompanionNoiseCipher
 *
 * Replaces the key by REKEY(k) as defined in the Noise specification.
 */
void
companion_noise_cipher_rekey (CompanionNoiseCipher *self)
{
  guint8 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
  guint8 zeros[COMPANION_NOISE_KEY_LEN] = { 0 };
  guint8 *buf;
  unsigned long long written = 0;

  g_return_if_fail (COMPANION_IS_NOISE_CIPHER (self));

  buf = sodium_malloc (COMPANION_NOISE_KEY_LEN + COMPANION_NOISE_TAG_LEN);
  if (buf == NULL)
    g_error ("Could not allocate secure memory for a Noise rekey");

  format_nonce (NONCE_MAX, nonce);
  crypto_aead_chacha20poly1305_ietf_encrypt (buf, &written, zeros, sizeof zeros,
                                             NULL, 0, NULL, nonce, self->key);
  memcpy (self->key, buf, COMPANION_NOISE_KEY_LEN);
  sodium_free (buf);
}

/**
 * companion_noise_cipher_get_nonce:
 * @self: a #CompanionNoiseCipher
 *
 * Returns: the counter the next message will use
 */
guint64
companion_noise_cipher_get_nonce (CompanionNoiseCipher *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_CIPHER (self), 0);

  return self->nonce;
}

/**
 * companion_noise_cipher_set_nonce:
 * @self: a #CompanionNoiseCipher
 * @nonce: the counter the next message will use
 *
 * Sets the counter. Reusing a counter with the same key breaks the
 * encryption: only for transports with explicit counters, and for tests.
 */
void
companion_noise_cipher_set_nonce (CompanionNoiseCipher *self,
                                  guint64               nonce)
{
  g_return_if_fail (COMPANION_IS_NOISE_CIPHER (self));

  self->nonce = nonce;
}
