/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Key length of ChaChaPoly and of X25519 keys, in bytes. */
#define COMPANION_NOISE_KEY_LEN 32
/* Length of the Poly1305 authentication tag every encrypted message carries. */
#define COMPANION_NOISE_TAG_LEN 16
/* The Noise limit on any message, handshake or transport, in bytes. */
#define COMPANION_NOISE_MAX_MESSAGE_LEN 65535
/* The largest plaintext one transport message can carry. */
#define COMPANION_NOISE_MAX_PAYLOAD_LEN 65519  /* 65535 minus the tag */

#define COMPANION_TYPE_NOISE_CIPHER (companion_noise_cipher_get_type ())

G_DECLARE_FINAL_TYPE (CompanionNoiseCipher, companion_noise_cipher,
                      COMPANION, NOISE_CIPHER, GObject)

/*
 * CompanionNoiseCipher is one direction of a Noise transport (a Noise
 * CipherState with a key): ChaCha20-Poly1305 (IETF) with the nonce 4 zero
 * bytes followed by a 64-bit little-endian message counter, and empty
 * associated data.  Messages must be decrypted in the order they were
 * encrypted: a dropped, replayed, reordered or altered message fails with
 * COMPANION_NOISE_ERROR_DECRYPT_FAILED.  A failed decryption does not advance
 * the counter.  Errors are in the COMPANION_NOISE_ERROR domain
 * (companion-noise.h).
 *
 * The key lives in sodium_malloc()'d memory and is wiped on finalize.
 * Instances normally come from companion_noise_handshake_split().
 */

/* @key: COMPANION_NOISE_KEY_LEN bytes, copied. */
CompanionNoiseCipher *companion_noise_cipher_new (const guint8 *key);

/* Appends the ciphertext (@len + COMPANION_NOISE_TAG_LEN bytes) to @out.
 * Fails with BAD_MESSAGE_LENGTH when @len > COMPANION_NOISE_MAX_PAYLOAD_LEN
 * and NONCE_EXHAUSTED when the counter reached 2^64-1; @out is then unchanged.
 * @plaintext must not point into @out. */
gboolean companion_noise_cipher_encrypt   (CompanionNoiseCipher  *self,
                                           const guint8          *plaintext,
                                           gsize                  len,
                                           GByteArray            *out,
                                           GError               **error);
/* Appends the plaintext (@len - COMPANION_NOISE_TAG_LEN bytes) to @out.
 * Fails with BAD_MESSAGE_LENGTH when @len is shorter than a tag or longer
 * than COMPANION_NOISE_MAX_MESSAGE_LEN, DECRYPT_FAILED when authentication
 * fails, NONCE_EXHAUSTED when the counter reached 2^64-1; @out is then
 * unchanged and the counter does not advance.  @ciphertext must not point
 * into @out. */
gboolean companion_noise_cipher_decrypt   (CompanionNoiseCipher  *self,
                                           const guint8          *ciphertext,
                                           gsize                  len,
                                           GByteArray            *out,
                                           GError               **error);
/* As companion_noise_cipher_encrypt(), in place: @buffer holds @len bytes
 * of plaintext and room for COMPANION_NOISE_TAG_LEN more, and holds the
 * ciphertext afterwards. */
gboolean companion_noise_cipher_encrypt_in_place (CompanionNoiseCipher  *self,
                                                  guint8                *buffer,
                                                  gsize                  len,
                                                  GError               **error);
/* As companion_noise_cipher_decrypt(), into @out, which has room for
 * @len - COMPANION_NOISE_TAG_LEN bytes (zeros after a failure). */
gboolean companion_noise_cipher_decrypt_into     (CompanionNoiseCipher  *self,
                                                  const guint8          *ciphertext,
                                                  gsize                  len,
                                                  guint8                *out,
                                                  GError               **error);
/* Noise Rekey(): the key becomes the first 32 bytes of the encryption of 32
 * zero bytes under nonce 2^64-1.  The counter is not reset.  Both peers must
 * rekey at the same point of the message stream. */
void     companion_noise_cipher_rekey     (CompanionNoiseCipher  *self);
/* The counter of the next message to encrypt or decrypt. */
guint64  companion_noise_cipher_get_nonce (CompanionNoiseCipher  *self);
/* Noise SetNonce(): for transports that carry explicit counters, and tests. */
void     companion_noise_cipher_set_nonce (CompanionNoiseCipher  *self,
                                           guint64                nonce);

/* Internal to companion-noise.c (the handshake's CipherState): the same
 * operations with associated data.  Not for transport use. */
gboolean _companion_noise_cipher_encrypt_with_ad (CompanionNoiseCipher  *self,
                                                  const guint8          *ad,
                                                  gsize                  ad_len,
                                                  const guint8          *plaintext,
                                                  gsize                  len,
                                                  GByteArray            *out,
                                                  GError               **error);
gboolean _companion_noise_cipher_decrypt_with_ad (CompanionNoiseCipher  *self,
                                                  const guint8          *ad,
                                                  gsize                  ad_len,
                                                  const guint8          *ciphertext,
                                                  gsize                  len,
                                                  GByteArray            *out,
                                                  GError               **error);

G_END_DECLS
