/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "companion-noise-cipher.h"

G_BEGIN_DECLS

/*
 * The Noise protocol framework (revision 34) handshake, on libsodium:
 * Noise_<PATTERN>_25519_ChaChaPoly_BLAKE2b.  Pairing uses IKpsk2 (the phone
 * is the initiator), sessions use KK; the other patterns are implemented
 * because the published test vectors cover them.
 *
 * Usage: create with a pattern and a role, set the prologue and the keys
 * the pattern needs, then alternate companion_noise_handshake_write_message()
 * and companion_noise_handshake_read_message() (the initiator writes first)
 * until companion_noise_handshake_is_finished(), then
 * companion_noise_handshake_split() into the two transport ciphers.  Keys and
 * the prologue can only be set before the first message.  Any error during a
 * message aborts the handshake: later calls fail with WRONG_STATE.
 *
 * Secrets (static and ephemeral private keys, psk, chaining key and cipher
 * key) live in sodium_malloc()'d memory and are wiped on finalize.  The
 * caller must have called sodium_init().
 */

/* Length of the handshake hash (BLAKE2b-512), in bytes. */
#define COMPANION_NOISE_HASH_LEN 64

#define COMPANION_NOISE_ERROR (companion_noise_error_quark ())

typedef enum
{
  /* The protocol name or pattern is not implemented. */
  COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL,
  /* Out of turn, finished, failed, or a key set that the pattern does not use. */
  COMPANION_NOISE_ERROR_WRONG_STATE,
  /* A key the pattern needs was not set. */
  COMPANION_NOISE_ERROR_MISSING_KEY,
  /* A Diffie-Hellman result was all zeros (a low-order public key). */
  COMPANION_NOISE_ERROR_INVALID_KEY,
  /* Truncated, or over 65535 bytes. */
  COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH,
  /* Authentication failed: wrong key, or a tampered, replayed, reordered message. */
  COMPANION_NOISE_ERROR_DECRYPT_FAILED,
  /* 2^64-1 messages with one cipher. */
  COMPANION_NOISE_ERROR_NONCE_EXHAUSTED,
} CompanionNoiseError;

GQuark companion_noise_error_quark (void);

typedef enum
{
  COMPANION_NOISE_PATTERN_NN,
  COMPANION_NOISE_PATTERN_KK,
  COMPANION_NOISE_PATTERN_IK,
  COMPANION_NOISE_PATTERN_XX,
  COMPANION_NOISE_PATTERN_IKPSK2,
  COMPANION_NOISE_PATTERN_KKPSK0,
  COMPANION_NOISE_PATTERN_KKPSK2,
} CompanionNoisePattern;

#define COMPANION_TYPE_NOISE_PATTERN (companion_noise_pattern_get_type ())
GType companion_noise_pattern_get_type (void);

typedef enum
{
  COMPANION_NOISE_ROLE_INITIATOR,
  COMPANION_NOISE_ROLE_RESPONDER,
} CompanionNoiseRole;

#define COMPANION_TYPE_NOISE_ROLE (companion_noise_role_get_type ())
GType companion_noise_role_get_type (void);

#define COMPANION_TYPE_NOISE_HANDSHAKE (companion_noise_handshake_get_type ())

G_DECLARE_FINAL_TYPE (CompanionNoiseHandshake, companion_noise_handshake,
                      COMPANION, NOISE_HANDSHAKE, GObject)

CompanionNoiseHandshake *companion_noise_handshake_new (CompanionNoisePattern   pattern,
                                                        CompanionNoiseRole      role,
                                                        GError                **error);
/* From a full name such as "Noise_KK_25519_ChaChaPoly_BLAKE2b";
 * UNSUPPORTED_PROTOCOL for anything not implemented. */
CompanionNoiseHandshake *companion_noise_handshake_new_from_name (const char         *name,
                                                                  CompanionNoiseRole  role,
                                                                  GError            **error);

CompanionNoisePattern companion_noise_handshake_get_pattern       (CompanionNoiseHandshake *self);
CompanionNoiseRole    companion_noise_handshake_get_role          (CompanionNoiseHandshake *self);
const char           *companion_noise_handshake_get_protocol_name (CompanionNoiseHandshake *self);

/* Setters: only before the first message.  Keys are COMPANION_NOISE_KEY_LEN
 * bytes and are copied.  A key the pattern does not use (a psk in KK, a
 * remote static that the IK responder learns from the handshake) makes the
 * first message fail with WRONG_STATE rather than being silently ignored. */
void companion_noise_handshake_set_prologue        (CompanionNoiseHandshake *self,
                                                    const guint8            *prologue,
                                                    gsize                    len);
/* Our static X25519 private key; the public key is derived from it. */
void companion_noise_handshake_set_local_static    (CompanionNoiseHandshake *self,
                                                    const guint8            *private_key);
/* The peer's static X25519 public key, for patterns where it is known in
 * advance (KK both sides, IK/IKpsk2 initiator). */
void companion_noise_handshake_set_remote_static   (CompanionNoiseHandshake *self,
                                                    const guint8            *public_key);
void companion_noise_handshake_set_psk             (CompanionNoiseHandshake *self,
                                                    const guint8            *psk);
/* Test vectors only: use this ephemeral private key instead of a random one. */
void companion_noise_handshake_set_fixed_ephemeral (CompanionNoiseHandshake *self,
                                                    const guint8            *private_key);

/* Our static public key, or NULL when no local static was set. */
GBytes *companion_noise_handshake_get_local_static_public (CompanionNoiseHandshake *self);

/* Appends the next handshake message, carrying @payload, to @out.  @out is
 * unchanged on error.  @payload must not point into @out. */
gboolean companion_noise_handshake_write_message (CompanionNoiseHandshake  *self,
                                                  const guint8             *payload,
                                                  gsize                     len,
                                                  GByteArray               *out,
                                                  GError                  **error);
/* Processes the peer's next handshake message and appends its payload to
 * @payload_out.  @payload_out is unchanged on error. */
gboolean companion_noise_handshake_read_message  (CompanionNoiseHandshake  *self,
                                                  const guint8             *message,
                                                  gsize                     len,
                                                  GByteArray               *payload_out,
                                                  GError                  **error);

gboolean companion_noise_handshake_is_finished   (CompanionNoiseHandshake  *self);
/* TRUE when our next call is write_message (FALSE once finished or failed). */
gboolean companion_noise_handshake_is_my_turn    (CompanionNoiseHandshake  *self);
/* The COMPANION_NOISE_HASH_LEN-byte handshake hash, once finished; else NULL. */
GBytes  *companion_noise_handshake_get_handshake_hash (CompanionNoiseHandshake *self);
/* The peer's static public key once known (set, or received); else NULL. */
GBytes  *companion_noise_handshake_get_remote_static  (CompanionNoiseHandshake *self);
/* Once finished, and only once: the transport ciphers for sending and for
 * receiving.  The chaining key is wiped; the handshake hash stays readable. */
gboolean companion_noise_handshake_split         (CompanionNoiseHandshake  *self,
                                                  CompanionNoiseCipher    **send,
                                                  CompanionNoiseCipher    **receive,
                                                  GError                  **error);

G_END_DECLS
