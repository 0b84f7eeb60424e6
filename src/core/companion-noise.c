/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-noise"

#include "config.h"

#include <sodium.h>
#include <string.h>

#include "companion-noise-cipher.h"
#include "companion-noise.h"

/*
 * The Noise protocol framework, revision 34 (https://noiseprotocol.org/noise.html),
 * sections 5 (processing rules) and 9 (pre-shared keys), with DH = 25519,
 * cipher = ChaChaPoly, hash = BLAKE2b.  The symmetric state (ck, h, k) and the
 * handshake state (s, e, rs, re, psk) follow the spec's names.
 */

#define DH_LEN   crypto_scalarmult_BYTES           /* 32 */
#define HASH_LEN COMPANION_NOISE_HASH_LEN          /* 64 */
#define BLOCK_LEN 128                              /* BLAKE2b block, for HMAC */

G_STATIC_ASSERT (DH_LEN == COMPANION_NOISE_KEY_LEN);
G_STATIC_ASSERT (crypto_scalarmult_SCALARBYTES == COMPANION_NOISE_KEY_LEN);
G_STATIC_ASSERT (HASH_LEN <= crypto_generichash_BYTES_MAX);

/* ---- Pattern table ------------------------------------------------------ */

typedef enum
{
  TOKEN_END = 0,
  TOKEN_E,
  TOKEN_S,
  TOKEN_EE,
  TOKEN_ES,   /* initiator's e with responder's s */
  TOKEN_SE,   /* initiator's s with responder's e */
  TOKEN_SS,
  TOKEN_PSK,
} Token;

#define MAX_MESSAGES 3
#define MAX_TOKENS   5

typedef struct
{
  const char *name;
  gboolean    initiator_pre_s;   /* pre-message "-> s" */
  gboolean    responder_pre_s;   /* pre-message "<- s" */
  guint       n_messages;        /* messages alternate, the initiator first */
  Token       messages[MAX_MESSAGES][MAX_TOKENS];  /* TOKEN_END-terminated unless full */
} PatternInfo;

static const PatternInfo patterns[] = {
  [COMPANION_NOISE_PATTERN_NN] = {
    "NN", FALSE, FALSE, 2,
    { { TOKEN_E },
      { TOKEN_E, TOKEN_EE } },
  },
  [COMPANION_NOISE_PATTERN_KK] = {
    "KK", TRUE, TRUE, 2,
    { { TOKEN_E, TOKEN_ES, TOKEN_SS },
      { TOKEN_E, TOKEN_EE, TOKEN_SE } },
  },
  [COMPANION_NOISE_PATTERN_IK] = {
    "IK", FALSE, TRUE, 2,
    { { TOKEN_E, TOKEN_ES, TOKEN_S, TOKEN_SS },
      { TOKEN_E, TOKEN_EE, TOKEN_SE } },
  },
  [COMPANION_NOISE_PATTERN_XX] = {
    "XX", FALSE, FALSE, 3,
    { { TOKEN_E },
      { TOKEN_E, TOKEN_EE, TOKEN_S, TOKEN_ES },
      { TOKEN_S, TOKEN_SE } },
  },
  [COMPANION_NOISE_PATTERN_IKPSK2] = {
    "IKpsk2", FALSE, TRUE, 2,
    { { TOKEN_E, TOKEN_ES, TOKEN_S, TOKEN_SS },
      { TOKEN_E, TOKEN_EE, TOKEN_SE, TOKEN_PSK } },
  },
  [COMPANION_NOISE_PATTERN_KKPSK0] = {
    "KKpsk0", TRUE, TRUE, 2,
    { { TOKEN_PSK, TOKEN_E, TOKEN_ES, TOKEN_SS },
      { TOKEN_E, TOKEN_EE, TOKEN_SE } },
  },
  [COMPANION_NOISE_PATTERN_KKPSK2] = {
    "KKpsk2", TRUE, TRUE, 2,
    { { TOKEN_E, TOKEN_ES, TOKEN_SS },
      { TOKEN_E, TOKEN_EE, TOKEN_SE, TOKEN_PSK } },
  },
};

#define PROTOCOL_PREFIX "Noise_"
#define PROTOCOL_SUFFIX "_25519_ChaChaPoly_BLAKE2b"

typedef enum
{
  STATE_NEW,        /* keys may still be set */
  STATE_RUNNING,
  STATE_FINISHED,
  STATE_SPLIT,
  STATE_FAILED,
} State;

/* Everything secret, in one sodium_malloc()'d block. */
typedef struct
{
  guint8 ck[HASH_LEN];
  guint8 s[DH_LEN];          /* local static private key */
  guint8 e[DH_LEN];          /* local ephemeral private key */
  guint8 fixed_e[DH_LEN];    /* test vectors only */
  guint8 psk[COMPANION_NOISE_KEY_LEN];
} Secrets;

struct _CompanionNoiseHandshake
{
  GObject parent_instance;

  CompanionNoisePattern pattern;
  CompanionNoiseRole    role;
  char                 *protocol_name;
  GByteArray           *prologue;

  State    state;
  guint    message_index;

  Secrets *secrets;
  guint8   h[HASH_LEN];
  CompanionNoiseCipher *cipher;   /* k; NULL while empty */

  guint8   s_pub[DH_LEN];
  guint8   e_pub[DH_LEN];
  guint8   rs[DH_LEN];
  guint8   re[DH_LEN];

  guint    has_s : 1;
  guint    has_e : 1;
  guint    has_fixed_e : 1;
  guint    has_rs : 1;
  guint    has_re : 1;
  guint    has_psk : 1;
};

G_DEFINE_FINAL_TYPE (CompanionNoiseHandshake, companion_noise_handshake, G_TYPE_OBJECT)

G_DEFINE_QUARK (companion-noise-error-quark, companion_noise_error)

G_DEFINE_ENUM_TYPE (CompanionNoisePattern, companion_noise_pattern,
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_PATTERN_NN, "nn"),
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_PATTERN_KK, "kk"),
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_PATTERN_IK, "ik"),
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_PATTERN_XX, "xx"),
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_PATTERN_IKPSK2, "ikpsk2"),
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_PATTERN_KKPSK0, "kkpsk0"),
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_PATTERN_KKPSK2, "kkpsk2"))

G_DEFINE_ENUM_TYPE (CompanionNoiseRole, companion_noise_role,
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_ROLE_INITIATOR, "initiator"),
  G_DEFINE_ENUM_VALUE (COMPANION_NOISE_ROLE_RESPONDER, "responder"))

enum {
  PROP_0,
  PROP_PATTERN,
  PROP_ROLE,
  PROP_PROTOCOL_NAME,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ---- Helpers: pattern properties ---------------------------------------- */

static inline const PatternInfo *
get_info (CompanionNoiseHandshake *self)
{
  return &patterns[self->pattern];
}

static inline gboolean
is_initiator (CompanionNoiseHandshake *self)
{
  return self->role == COMPANION_NOISE_ROLE_INITIATOR;
}

static const char *
role_name (CompanionNoiseRole role)
{
  return role == COMPANION_NOISE_ROLE_INITIATOR ? "initiator" : "responder";
}

static gboolean
pattern_has_token (const PatternInfo *info,
                   Token              token,
                   int                only_sender)  /* -1 any, 0 initiator, 1 responder */
{
  for (guint m = 0; m < info->n_messages; m++)
    {
      if (only_sender >= 0 && (int) (m % 2) != only_sender)
        continue;
      for (guint t = 0; t < MAX_TOKENS && info->messages[m][t] != TOKEN_END; t++)
        if (info->messages[m][t] == token)
          return TRUE;
    }
  return FALSE;
}

static gboolean
pattern_uses_psk (const PatternInfo *info)
{
  return pattern_has_token (info, TOKEN_PSK, -1);
}

/* Whether @initiator_side's static key takes part in the handshake. */
static gboolean
pattern_uses_static (const PatternInfo *info,
                     gboolean           initiator_side)
{
  if (initiator_side)
    return info->initiator_pre_s ||
           pattern_has_token (info, TOKEN_S, 0) ||
           pattern_has_token (info, TOKEN_SE, -1) ||
           pattern_has_token (info, TOKEN_SS, -1);
  else
    return info->responder_pre_s ||
           pattern_has_token (info, TOKEN_S, 1) ||
           pattern_has_token (info, TOKEN_ES, -1) ||
           pattern_has_token (info, TOKEN_SS, -1);
}

static gboolean
remote_static_known_in_advance (CompanionNoiseHandshake *self)
{
  const PatternInfo *info = get_info (self);

  return is_initiator (self) ? info->responder_pre_s : info->initiator_pre_s;
}

/* ---- Symmetric state ---------------------------------------------------- */

/* HMAC-BLAKE2b (RFC 2104 with a 128-byte block) of data1 || data2. */
static void
hmac_blake2b (const guint8 *key,
              gsize         key_len,
              const guint8 *data1,
              gsize         len1,
              const guint8 *data2,
              gsize         len2,
              guint8        out[HASH_LEN])
{
  crypto_generichash_state st;
  guint8 pad[BLOCK_LEN];
  guint8 inner[HASH_LEN];

  g_assert (key_len <= HASH_LEN);

  memset (pad, 0, sizeof pad);
  memcpy (pad, key, key_len);
  for (guint i = 0; i < BLOCK_LEN; i++)
    pad[i] ^= 0x36;
  crypto_generichash_init (&st, NULL, 0, HASH_LEN);
  crypto_generichash_update (&st, pad, sizeof pad);
  if (len1 > 0)
    crypto_generichash_update (&st, data1, len1);
  if (len2 > 0)
    crypto_generichash_update (&st, data2, len2);
  crypto_generichash_final (&st, inner, sizeof inner);

  for (guint i = 0; i < BLOCK_LEN; i++)
    pad[i] ^= 0x36 ^ 0x5c;
  crypto_generichash_init (&st, NULL, 0, HASH_LEN);
  crypto_generichash_update (&st, pad, sizeof pad);
  crypto_generichash_update (&st, inner, sizeof inner);
  crypto_generichash_final (&st, out, HASH_LEN);

  sodium_memzero (&st, sizeof st);
  sodium_memzero (pad, sizeof pad);
  sodium_memzero (inner, sizeof inner);
}

/* Noise HKDF(chaining_key, input_key_material, 2 or 3). */
static void
hkdf (const guint8 chaining_key[HASH_LEN],
      const guint8 *ikm,
      gsize         ikm_len,
      guint8        out1[HASH_LEN],
      guint8        out2[HASH_LEN],
      guint8        out3[HASH_LEN])
{
  static const guint8 one = 0x01, two = 0x02, three = 0x03;
  guint8 temp_key[HASH_LEN];

  hmac_blake2b (chaining_key, HASH_LEN, ikm, ikm_len, NULL, 0, temp_key);
  hmac_blake2b (temp_key, HASH_LEN, &one, 1, NULL, 0, out1);
  hmac_blake2b (temp_key, HASH_LEN, out1, HASH_LEN, &two, 1, out2);
  if (out3 != NULL)
    hmac_blake2b (temp_key, HASH_LEN, out2, HASH_LEN, &three, 1, out3);

  sodium_memzero (temp_key, sizeof temp_key);
}

static void
mix_hash (CompanionNoiseHandshake *self,
          const guint8            *data,
          gsize                    len)
{
  crypto_generichash_state st;

  crypto_generichash_init (&st, NULL, 0, HASH_LEN);
  crypto_generichash_update (&st, self->h, HASH_LEN);
  if (len > 0)
    crypto_generichash_update (&st, data, len);
  crypto_generichash_final (&st, self->h, HASH_LEN);
  sodium_memzero (&st, sizeof st);
}

static void
initialize_key (CompanionNoiseHandshake *self,
                const guint8             key[COMPANION_NOISE_KEY_LEN])
{
  g_clear_object (&self->cipher);
  self->cipher = companion_noise_cipher_new (key);
}

static void
mix_key (CompanionNoiseHandshake *self,
         const guint8            *ikm,
         gsize                    ikm_len)
{
  guint8 ck[HASH_LEN];
  guint8 temp_k[HASH_LEN];

  hkdf (self->secrets->ck, ikm, ikm_len, ck, temp_k, NULL);
  memcpy (self->secrets->ck, ck, HASH_LEN);
  initialize_key (self, temp_k);   /* truncated to 32 bytes */

  sodium_memzero (ck, sizeof ck);
  sodium_memzero (temp_k, sizeof temp_k);
}

static void
mix_key_and_hash (CompanionNoiseHandshake *self,
                  const guint8            *ikm,
                  gsize                    ikm_len)
{
  guint8 ck[HASH_LEN];
  guint8 temp_h[HASH_LEN];
  guint8 temp_k[HASH_LEN];

  hkdf (self->secrets->ck, ikm, ikm_len, ck, temp_h, temp_k);
  memcpy (self->secrets->ck, ck, HASH_LEN);
  mix_hash (self, temp_h, HASH_LEN);
  initialize_key (self, temp_k);

  sodium_memzero (ck, sizeof ck);
  sodium_memzero (temp_h, sizeof temp_h);
  sodium_memzero (temp_k, sizeof temp_k);
}

/* Appends to @out. */
static gboolean
encrypt_and_hash (CompanionNoiseHandshake  *self,
                  const guint8             *plaintext,
                  gsize                     len,
                  GByteArray               *out,
                  GError                  **error)
{
  guint start = out->len;

  if (self->cipher == NULL)
    g_byte_array_append (out, plaintext, len);
  else if (!_companion_noise_cipher_encrypt_with_ad (self->cipher, self->h, HASH_LEN,
                                                     plaintext, len, out, error))
    return FALSE;

  mix_hash (self, out->data + start, out->len - start);
  return TRUE;
}

/* Appends to @out. */
static gboolean
decrypt_and_hash (CompanionNoiseHandshake  *self,
                  const guint8             *ciphertext,
                  gsize                     len,
                  GByteArray               *out,
                  GError                  **error)
{
  if (self->cipher == NULL)
    g_byte_array_append (out, ciphertext, len);
  else if (!_companion_noise_cipher_decrypt_with_ad (self->cipher, self->h, HASH_LEN,
                                                     ciphertext, len, out, error))
    return FALSE;

  mix_hash (self, ciphertext, len);
  return TRUE;
}

/* MixKey(DH(priv, pub)), refusing an all-zero result. */
static gboolean
mix_dh (CompanionNoiseHandshake  *self,
        const guint8              priv[DH_LEN],
        const guint8              pub[DH_LEN],
        GError                  **error)
{
  guint8 shared[DH_LEN];

  /* crypto_scalarmult() fails when the result is all zeros, i.e. when
   * @pub is a low-order point. */
  if (crypto_scalarmult (shared, priv, pub) != 0)
    {
      sodium_memzero (shared, sizeof shared);
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_INVALID_KEY,
                   "%s handshake message %u refused: a Diffie-Hellman result was all zeros "
                   "(a low-order public key, sent by the peer or set as its static key)",
                   self->protocol_name, self->message_index + 1);
      return FALSE;
    }

  mix_key (self, shared, sizeof shared);
  sodium_memzero (shared, sizeof shared);
  return TRUE;
}

static gboolean
process_dh_token (CompanionNoiseHandshake  *self,
                  Token                     token,
                  GError                  **error)
{
  gboolean initiator = is_initiator (self);

  /* Every key the tokens need was checked by start(), or set by an earlier
   * token of the pattern. */
  switch (token)
    {
    case TOKEN_EE:
      g_assert (self->has_e && self->has_re);
      return mix_dh (self, self->secrets->e, self->re, error);

    case TOKEN_ES:
      if (initiator)
        {
          g_assert (self->has_e && self->has_rs);
          return mix_dh (self, self->secrets->e, self->rs, error);
        }
      g_assert (self->has_s && self->has_re);
      return mix_dh (self, self->secrets->s, self->re, error);

    case TOKEN_SE:
      if (initiator)
        {
          g_assert (self->has_s && self->has_re);
          return mix_dh (self, self->secrets->s, self->re, error);
        }
      g_assert (self->has_e && self->has_rs);
      return mix_dh (self, self->secrets->e, self->rs, error);

    case TOKEN_SS:
      g_assert (self->has_s && self->has_rs);
      return mix_dh (self, self->secrets->s, self->rs, error);

    case TOKEN_PSK:
      g_assert (self->has_psk);
      mix_key_and_hash (self, self->secrets->psk, COMPANION_NOISE_KEY_LEN);
      return TRUE;

    case TOKEN_END:
    case TOKEN_E:
    case TOKEN_S:
    default:
      g_assert_not_reached ();
    }
}

/* ---- Handshake state ---------------------------------------------------- */

static void
wipe_secrets (CompanionNoiseHandshake *self,
              gboolean                 keep_chaining_key)
{
  guint8 ck[HASH_LEN];

  if (keep_chaining_key)
    memcpy (ck, self->secrets->ck, HASH_LEN);
  sodium_memzero (self->secrets, sizeof *self->secrets);
  if (keep_chaining_key)
    {
      memcpy (self->secrets->ck, ck, HASH_LEN);
      sodium_memzero (ck, sizeof ck);
    }
  self->has_e = FALSE;
  self->has_fixed_e = FALSE;
  self->has_psk = FALSE;
  g_clear_object (&self->cipher);
}

static void
fail (CompanionNoiseHandshake *self)
{
  self->state = STATE_FAILED;
  wipe_secrets (self, FALSE);
}

/* Fails unless a key was set exactly when the pattern uses it. */
static gboolean
check_key (CompanionNoiseHandshake  *self,
           gboolean                  used,
           gboolean                  set,
           const char               *needed,
           const char               *unused,
           GError                  **error)
{
  if (used && !set)
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_MISSING_KEY,
                   "%s %s needs %s",
                   self->protocol_name, role_name (self->role), needed);
      return FALSE;
    }
  if (!used && set)
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE,
                   "%s %s %s",
                   self->protocol_name, role_name (self->role), unused);
      return FALSE;
    }
  return TRUE;
}

/* The check that the caller set exactly the keys the pattern uses, then
 * InitializeSymmetric(), MixHash(prologue) and the pre-messages. */
static gboolean
start (CompanionNoiseHandshake  *self,
       GError                  **error)
{
  const PatternInfo *info = get_info (self);
  gboolean initiator = is_initiator (self);
  gsize name_len;

  if (!check_key (self, pattern_uses_static (info, initiator), self->has_s,
                  "a local static key",
                  "uses no local static key, but one was set", error) ||
      !check_key (self, remote_static_known_in_advance (self), self->has_rs,
                  "the peer's static public key",
                  "learns the peer's static key from the handshake, it cannot be set in advance",
                  error) ||
      !check_key (self, pattern_uses_psk (info), self->has_psk,
                  "a pre-shared key",
                  "uses no pre-shared key, but one was set", error))
    return FALSE;

  /* InitializeSymmetric(protocol_name) */
  name_len = strlen (self->protocol_name);
  memset (self->h, 0, HASH_LEN);
  if (name_len <= HASH_LEN)
    memcpy (self->h, self->protocol_name, name_len);
  else
    crypto_generichash (self->h, HASH_LEN, (const guint8 *) self->protocol_name, name_len, NULL, 0);
  memcpy (self->secrets->ck, self->h, HASH_LEN);
  g_clear_object (&self->cipher);

  mix_hash (self, self->prologue->data, self->prologue->len);

  /* Pre-messages: the initiator's first, then the responder's. */
  if (info->initiator_pre_s)
    mix_hash (self, initiator ? self->s_pub : self->rs, DH_LEN);
  if (info->responder_pre_s)
    mix_hash (self, initiator ? self->rs : self->s_pub, DH_LEN);

  self->state = STATE_RUNNING;
  self->message_index = 0;
  return TRUE;
}

static gboolean
check_turn (CompanionNoiseHandshake  *self,
            gboolean                  writing,
            GError                  **error)
{
  gboolean initiators_turn;

  switch (self->state)
    {
    case STATE_FAILED:
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE,
                   "%s handshake already failed", self->protocol_name);
      return FALSE;

    case STATE_FINISHED:
    case STATE_SPLIT:
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE,
                   "%s handshake is already finished: use the transport ciphers",
                   self->protocol_name);
      return FALSE;

    case STATE_NEW:
    case STATE_RUNNING:
    default:
      break;
    }

  initiators_turn = self->message_index % 2 == 0;
  if (writing != (initiators_turn == is_initiator (self)))
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE,
                   "%s %s cannot %s handshake message %u: it is the %s's turn to write",
                   self->protocol_name, role_name (self->role),
                   writing ? "write" : "read", self->message_index + 1,
                   initiators_turn ? "initiator" : "responder");
      return FALSE;
    }

  return TRUE;
}

/* The size of the current message's tokens, and whether its payload will be
 * encrypted, without changing any state. */
static gsize
message_overhead (CompanionNoiseHandshake *self,
                  gboolean                *payload_encrypted)
{
  const PatternInfo *info = get_info (self);
  const Token *tokens = info->messages[self->message_index];
  gboolean has_key = self->cipher != NULL;
  gboolean psk = pattern_uses_psk (info);
  gsize size = 0;

  for (guint t = 0; t < MAX_TOKENS && tokens[t] != TOKEN_END; t++)
    {
      switch (tokens[t])
        {
        case TOKEN_E:
          size += DH_LEN;
          if (psk)
            has_key = TRUE;
          break;

        case TOKEN_S:
          size += DH_LEN + (has_key ? COMPANION_NOISE_TAG_LEN : 0);
          break;

        case TOKEN_EE:
        case TOKEN_ES:
        case TOKEN_SE:
        case TOKEN_SS:
        case TOKEN_PSK:
          has_key = TRUE;
          break;

        case TOKEN_END:
        default:
          g_assert_not_reached ();
        }
    }

  *payload_encrypted = has_key;
  return size;
}

static void
finish_message (CompanionNoiseHandshake *self)
{
  self->message_index++;
  if (self->message_index == get_info (self)->n_messages)
    {
      self->state = STATE_FINISHED;
      /* Only the chaining key is needed any more, for split(). */
      wipe_secrets (self, TRUE);
    }
}

/* ---- GObject ------------------------------------------------------------ */

static void
companion_noise_handshake_dispose (GObject *object)
{
  CompanionNoiseHandshake *self = (CompanionNoiseHandshake *)object;

  g_clear_object (&self->cipher);

  G_OBJECT_CLASS (companion_noise_handshake_parent_class)->dispose (object);
}

static void
companion_noise_handshake_finalize (GObject *object)
{
  CompanionNoiseHandshake *self = (CompanionNoiseHandshake *)object;

  /* sodium_free() wipes before releasing. */
  g_clear_pointer (&self->secrets, sodium_free);
  g_clear_pointer (&self->prologue, g_byte_array_unref);
  g_clear_pointer (&self->protocol_name, g_free);
  sodium_memzero (self->h, sizeof self->h);
  sodium_memzero (self->e_pub, sizeof self->e_pub);
  sodium_memzero (self->re, sizeof self->re);

  G_OBJECT_CLASS (companion_noise_handshake_parent_class)->finalize (object);
}

static void
companion_noise_handshake_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  CompanionNoiseHandshake *self = COMPANION_NOISE_HANDSHAKE (object);

  switch (prop_id)
    {
    case PROP_PATTERN:
      g_value_set_enum (value, self->pattern);
      break;

    case PROP_ROLE:
      g_value_set_enum (value, self->role);
      break;

    case PROP_PROTOCOL_NAME:
      g_value_set_string (value, self->protocol_name);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_noise_handshake_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  CompanionNoiseHandshake *self = COMPANION_NOISE_HANDSHAKE (object);

  switch (prop_id)
    {
    case PROP_PATTERN:
      self->pattern = g_value_get_enum (value);
      g_clear_pointer (&self->protocol_name, g_free);
      self->protocol_name = g_strconcat (PROTOCOL_PREFIX, patterns[self->pattern].name,
                                         PROTOCOL_SUFFIX, NULL);
      break;

    case PROP_ROLE:
      self->role = g_value_get_enum (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
companion_noise_handshake_class_init (CompanionNoiseHandshakeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_noise_handshake_dispose;
  object_class->finalize = companion_noise_handshake_finalize;
  object_class->get_property = companion_noise_handshake_get_property;
  object_class->set_property = companion_noise_handshake_set_property;

  properties[PROP_PATTERN] =
    g_param_spec_enum ("pattern", NULL, NULL,
                       COMPANION_TYPE_NOISE_PATTERN,
                       COMPANION_NOISE_PATTERN_KK,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_ROLE] =
    g_param_spec_enum ("role", NULL, NULL,
                       COMPANION_TYPE_NOISE_ROLE,
                       COMPANION_NOISE_ROLE_INITIATOR,
                       (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PROTOCOL_NAME] =
    g_param_spec_string ("protocol-name", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
companion_noise_handshake_init (CompanionNoiseHandshake *self)
{
  self->secrets = sodium_malloc (sizeof *self->secrets);
  if (self->secrets == NULL)
    g_error ("Could not allocate secure memory for a Noise handshake");
  sodium_memzero (self->secrets, sizeof *self->secrets);
  self->prologue = g_byte_array_new ();
  self->state = STATE_NEW;
}

/* ---- Public API ---------------------------------------------------------- */

/**
 * companion_noise_handshake_new:
 * @pattern: the handshake pattern
 * @role: whether we write the first message
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new handshake, or %NULL with
 *   %COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL for an unknown pattern
 */
CompanionNoiseHandshake *
companion_noise_handshake_new (CompanionNoisePattern   pattern,
                               CompanionNoiseRole      role,
                               GError                **error)
{
  g_return_val_if_fail (role == COMPANION_NOISE_ROLE_INITIATOR ||
                        role == COMPANION_NOISE_ROLE_RESPONDER, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if ((guint) pattern >= G_N_ELEMENTS (patterns))
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL,
                   "Unsupported Noise handshake pattern %d", (int) pattern);
      return NULL;
    }

  return g_object_new (COMPANION_TYPE_NOISE_HANDSHAKE,
                       "pattern", pattern,
                       "role", role,
                       NULL);
}

/**
 * companion_noise_handshake_new_from_name:
 * @name: a full Noise protocol name
 * @role: whether we write the first message
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): a new handshake, or %NULL with
 *   %COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL
 */
CompanionNoiseHandshake *
companion_noise_handshake_new_from_name (const char         *name,
                                         CompanionNoiseRole  role,
                                         GError            **error)
{
  gsize len, prefix_len, suffix_len;

  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  len = strlen (name);
  prefix_len = strlen (PROTOCOL_PREFIX);
  suffix_len = strlen (PROTOCOL_SUFFIX);

  if (len > prefix_len + suffix_len &&
      g_str_has_prefix (name, PROTOCOL_PREFIX) &&
      g_str_has_suffix (name, PROTOCOL_SUFFIX))
    {
      const char *pattern_name = name + prefix_len;
      gsize pattern_len = len - prefix_len - suffix_len;

      for (guint i = 0; i < G_N_ELEMENTS (patterns); i++)
        if (strlen (patterns[i].name) == pattern_len &&
            memcmp (patterns[i].name, pattern_name, pattern_len) == 0)
          return companion_noise_handshake_new (i, role, error);
    }

  {
    g_autofree char *escaped = g_strescape (name, NULL);
    g_autoptr(GString) supported = g_string_new (NULL);

    if (strlen (escaped) > 80)
      strcpy (escaped + 77, "...");

    for (guint i = 0; i < G_N_ELEMENTS (patterns); i++)
      g_string_append_printf (supported, "%s%s", i > 0 ? ", " : "", patterns[i].name);

    g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_UNSUPPORTED_PROTOCOL,
                 "Unsupported Noise protocol “%s”: only " PROTOCOL_PREFIX "<pattern>"
                 PROTOCOL_SUFFIX " with pattern %s is implemented",
                 escaped, supported->str);
  }
  return NULL;
}

CompanionNoisePattern
companion_noise_handshake_get_pattern (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), 0);

  return self->pattern;
}

CompanionNoiseRole
companion_noise_handshake_get_role (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), 0);

  return self->role;
}

/**
 * companion_noise_handshake_get_protocol_name:
 * @self: a #CompanionNoiseHandshake
 *
 * Returns: (transfer none): e.g. "Noise_KK_25519_ChaChaPoly_BLAKE2b"
 */
const char *
companion_noise_handshake_get_protocol_name (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), NULL);

  return self->protocol_name;
}

/**
 * companion_noise_handshake_set_prologue:
 * @self: a #CompanionNoiseHandshake
 * @prologue: (array length=len) (nullable): data both sides must agree on
 * @len: length of @prologue
 *
 * Replaces the prologue (empty by default). Before the first message only.
 */
void
companion_noise_handshake_set_prologue (CompanionNoiseHandshake *self,
                                        const guint8            *prologue,
                                        gsize                    len)
{
  g_return_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self));
  g_return_if_fail (prologue != NULL || len == 0);
  g_return_if_fail (len <= G_MAXUINT);
  g_return_if_fail (self->state == STATE_NEW);

  g_byte_array_set_size (self->prologue, 0);
  if (len > 0)
    g_byte_array_append (self->prologue, prologue, len);
}

/**
 * companion_noise_handshake_set_local_static:
 * @self: a #CompanionNoiseHandshake
 * @private_key: our X25519 static private key; copied
 *
 * Sets our static key pair. Before the first message only.
 */
void
companion_noise_handshake_set_local_static (CompanionNoiseHandshake *self,
                                            const guint8             *private_key)
{
  g_return_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self));
  g_return_if_fail (private_key != NULL);
  g_return_if_fail (self->state == STATE_NEW);

  memcpy (self->secrets->s, private_key, DH_LEN);
  crypto_scalarmult_base (self->s_pub, self->secrets->s);
  self->has_s = TRUE;
}

/**
 * companion_noise_handshake_set_remote_static:
 * @self: a #CompanionNoiseHandshake
 * @public_key: the peer's X25519 static public key; copied
 *
 * For patterns where the peer's static key is known in advance. Before the
 * first message only.
 */
void
companion_noise_handshake_set_remote_static (CompanionNoiseHandshake *self,
                                             const guint8             *public_key)
{
  g_return_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self));
  g_return_if_fail (public_key != NULL);
  g_return_if_fail (self->state == STATE_NEW);

  memcpy (self->rs, public_key, DH_LEN);
  self->has_rs = TRUE;
}

/**
 * companion_noise_handshake_set_psk:
 * @self: a #CompanionNoiseHandshake
 * @psk: the 32-byte pre-shared key; copied
 *
 * Before the first message only.
 */
void
companion_noise_handshake_set_psk (CompanionNoiseHandshake *self,
                                   const guint8             *psk)
{
  g_return_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self));
  g_return_if_fail (psk != NULL);
  g_return_if_fail (self->state == STATE_NEW);

  memcpy (self->secrets->psk, psk, COMPANION_NOISE_KEY_LEN);
  self->has_psk = TRUE;
}

/**
 * companion_noise_handshake_set_fixed_ephemeral:
 * @self: a #CompanionNoiseHandshake
 * @private_key: the X25519 ephemeral private key to use; copied
 *
 * For test vectors only: a fixed ephemeral key removes forward secrecy.
 * Before the first message only.
 */
void
companion_noise_handshake_set_fixed_ephemeral (CompanionNoiseHandshake *self,
                                               const guint8             *private_key)
{
  g_return_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self));
  g_return_if_fail (private_key != NULL);
  g_return_if_fail (self->state == STATE_NEW);

  memcpy (self->secrets->fixed_e, private_key, DH_LEN);
  self->has_fixed_e = TRUE;
}

/**
 * companion_noise_handshake_get_local_static_public:
 * @self: a #CompanionNoiseHandshake
 *
 * Returns: (transfer full) (nullable): our static public key
 */
GBytes *
companion_noise_handshake_get_local_static_public (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), NULL);

  if (!self->has_s)
    return NULL;

  return g_bytes_new (self->s_pub, DH_LEN);
}

/**
 * companion_noise_handshake_write_message:
 * @self: a #CompanionNoiseHandshake
 * @payload: (array length=len) (nullable): payload to carry; encrypted
 *   unless the message is the first of an unauthenticated pattern (NN, XX)
 * @len: length of @payload
 * @out: buffer the message is appended to
 * @error: return location for a #GError
 *
 * Writes our next handshake message. WRONG_STATE when it is the peer's
 * turn or the handshake is over, MISSING_KEY when a key is missing,
 * BAD_MESSAGE_LENGTH when the message would exceed 65535 bytes: these
 * leave the handshake as it was. INVALID_KEY aborts it.
 *
 * Returns: %TRUE on success
 */
gboolean
companion_noise_handshake_write_message (CompanionNoiseHandshake  *self,
                                         const guint8             *payload,
                                         gsize                     len,
                                         GByteArray               *out,
                                         GError                  **error)
{
  const Token *tokens;
  gboolean payload_encrypted;
  gboolean psk;
  gsize overhead;
  gsize total;
  guint start_len;

  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), FALSE);
  g_return_val_if_fail (payload != NULL || len == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_turn (self, TRUE, error))
    return FALSE;

  /* Before start(): the key is empty then, as start() leaves it. */
  overhead = message_overhead (self, &payload_encrypted);
  total = overhead + (payload_encrypted ? COMPANION_NOISE_TAG_LEN : 0);
  if (len > COMPANION_NOISE_MAX_MESSAGE_LEN || total + len > COMPANION_NOISE_MAX_MESSAGE_LEN)
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH,
                   "%s handshake message %u cannot carry a %" G_GSIZE_FORMAT "-byte payload: "
                   "messages are limited to %d bytes",
                   self->protocol_name, self->message_index + 1, len,
                   COMPANION_NOISE_MAX_MESSAGE_LEN);
      return FALSE;
    }

  if (self->state == STATE_NEW && !start (self, error))
    return FALSE;

  tokens = get_info (self)->messages[self->message_index];
  psk = pattern_uses_psk (get_info (self));
  start_len = out->len;

  for (guint t = 0; t < MAX_TOKENS && tokens[t] != TOKEN_END; t++)
    {
      switch (tokens[t])
        {
        case TOKEN_E:
          if (self->has_fixed_e)
            memcpy (self->secrets->e, self->secrets->fixed_e, DH_LEN);
          else
            randombytes_buf (self->secrets->e, DH_LEN);
          crypto_scalarmult_base (self->e_pub, self->secrets->e);
          self->has_e = TRUE;
          g_byte_array_append (out, self->e_pub, DH_LEN);
          mix_hash (self, self->e_pub, DH_LEN);
          if (psk)
            mix_key (self, self->e_pub, DH_LEN);
          break;

        case TOKEN_S:
          g_assert (self->has_s);
          /* Cannot fail: the length was checked above. */
          if (!encrypt_and_hash (self, self->s_pub, DH_LEN, out, error))
            goto failed;
          break;

        case TOKEN_EE:
        case TOKEN_ES:
        case TOKEN_SE:
        case TOKEN_SS:
        case TOKEN_PSK:
          if (!process_dh_token (self, tokens[t], error))
            goto failed;
          break;

        case TOKEN_END:
        default:
          g_assert_not_reached ();
        }
    }

  if (!encrypt_and_hash (self, payload, len, out, error))
    goto failed;

  g_assert (out->len - start_len == total + len);

  finish_message (self);
  return TRUE;

failed:
  g_byte_array_set_size (out, start_len);
  fail (self);
  return FALSE;
}

/**
 * companion_noise_handshake_read_message:
 * @self: a #CompanionNoiseHandshake
 * @message: (array length=len): the peer's handshake message
 * @len: length of @message
 * @payload_out: buffer the decrypted payload is appended to
 * @error: return location for a #GError
 *
 * Reads the peer's next handshake message. WRONG_STATE when it is our
 * turn to write or the handshake is over, and MISSING_KEY, leave the
 * handshake as it was. BAD_MESSAGE_LENGTH (truncated or over 65535 bytes),
 * DECRYPT_FAILED and INVALID_KEY abort it.
 *
 * Returns: %TRUE on success
 */
gboolean
companion_noise_handshake_read_message (CompanionNoiseHandshake  *self,
                                        const guint8             *message,
                                        gsize                     len,
                                        GByteArray               *payload_out,
                                        GError                  **error)
{
  g_autoptr(GByteArray) decrypted_s = NULL;
  const Token *tokens;
  gboolean payload_encrypted;
  gboolean psk;
  gsize overhead;
  gsize pos = 0;
  guint start_len;

  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), FALSE);
  g_return_val_if_fail (message != NULL || len == 0, FALSE);
  g_return_val_if_fail (payload_out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_turn (self, FALSE, error))
    return FALSE;
  if (self->state == STATE_NEW && !start (self, error))
    return FALSE;

  overhead = message_overhead (self, &payload_encrypted);
  if (len > COMPANION_NOISE_MAX_MESSAGE_LEN ||
      len < overhead + (payload_encrypted ? COMPANION_NOISE_TAG_LEN : 0))
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_BAD_MESSAGE_LENGTH,
                   "%s handshake message %u is %" G_GSIZE_FORMAT " bytes: %s %" G_GSIZE_FORMAT,
                   self->protocol_name, self->message_index + 1, len,
                   len > COMPANION_NOISE_MAX_MESSAGE_LEN ? "the limit is" : "it needs at least",
                   len > COMPANION_NOISE_MAX_MESSAGE_LEN
                     ? (gsize) COMPANION_NOISE_MAX_MESSAGE_LEN
                     : overhead + (payload_encrypted ? COMPANION_NOISE_TAG_LEN : 0));
      fail (self);
      return FALSE;
    }

  tokens = get_info (self)->messages[self->message_index];
  psk = pattern_uses_psk (get_info (self));
  start_len = payload_out->len;

  for (guint t = 0; t < MAX_TOKENS && tokens[t] != TOKEN_END; t++)
    {
      switch (tokens[t])
        {
        case TOKEN_E:
          memcpy (self->re, message + pos, DH_LEN);
          pos += DH_LEN;
          self->has_re = TRUE;
          mix_hash (self, self->re, DH_LEN);
          if (psk)
            mix_key (self, self->re, DH_LEN);
          break;

        case TOKEN_S:
          {
            gsize s_len = DH_LEN + (self->cipher != NULL ? COMPANION_NOISE_TAG_LEN : 0);

            decrypted_s = g_byte_array_sized_new (DH_LEN);
            if (!decrypt_and_hash (self, message + pos, s_len, decrypted_s, error))
              goto failed_decrypt;
            g_assert (decrypted_s->len == DH_LEN);
            memcpy (self->rs, decrypted_s->data, DH_LEN);
            self->has_rs = TRUE;
            pos += s_len;
          }
          break;

        case TOKEN_EE:
        case TOKEN_ES:
        case TOKEN_SE:
        case TOKEN_SS:
        case TOKEN_PSK:
          if (!process_dh_token (self, tokens[t], error))
            goto failed;
          break;

        case TOKEN_END:
        default:
          g_assert_not_reached ();
        }
    }

  g_assert (pos == overhead);

  if (!decrypt_and_hash (self, message + pos, len - pos, payload_out, error))
    goto failed_decrypt;

  finish_message (self);
  return TRUE;

failed_decrypt:
  /* The lengths were checked: authentication is the only way to fail. */
  if (error != NULL && *error != NULL)
    {
      g_clear_error (error);
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_DECRYPT_FAILED,
                   "%s handshake message %u failed authentication (wrong pre-shared key "
                   "or static key, different prologue, or a tampered message)",
                   self->protocol_name, self->message_index + 1);
    }
failed:
  g_byte_array_set_size (payload_out, start_len);
  fail (self);
  return FALSE;
}

/**
 * companion_noise_handshake_is_finished:
 * @self: a #CompanionNoiseHandshake
 *
 * Returns: %TRUE once the last handshake message was written or read
 */
gboolean
companion_noise_handshake_is_finished (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), FALSE);

  return self->state == STATE_FINISHED || self->state == STATE_SPLIT;
}

/**
 * companion_noise_handshake_is_my_turn:
 * @self: a #CompanionNoiseHandshake
 *
 * Returns: %TRUE when the next call must be write_message()
 */
gboolean
companion_noise_handshake_is_my_turn (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), FALSE);

  if (self->state != STATE_NEW && self->state != STATE_RUNNING)
    return FALSE;

  return (self->message_index % 2 == 0) == is_initiator (self);
}

/**
 * companion_noise_handshake_get_handshake_hash:
 * @self: a #CompanionNoiseHandshake
 *
 * The final h, identical on both sides: channel binding, and the input of
 * the pairing safety code.
 *
 * Returns: (transfer full) (nullable): %COMPANION_NOISE_HASH_LEN bytes, or
 *   %NULL before the handshake finished
 */
GBytes *
companion_noise_handshake_get_handshake_hash (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), NULL);

  if (!companion_noise_handshake_is_finished (self))
    return NULL;

  return g_bytes_new (self->h, HASH_LEN);
}

/**
 * companion_noise_handshake_get_remote_static:
 * @self: a #CompanionNoiseHandshake
 *
 * Returns: (transfer full) (nullable): the peer's static public key, set in
 *   advance or received in the handshake; %NULL when not (yet) known or when
 *   the handshake failed
 */
GBytes *
companion_noise_handshake_get_remote_static (CompanionNoiseHandshake *self)
{
  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), NULL);

  if (!self->has_rs || self->state == STATE_FAILED)
    return NULL;

  return g_bytes_new (self->rs, DH_LEN);
}

/**
 * companion_noise_handshake_split:
 * @self: a finished #CompanionNoiseHandshake
 * @send: (out) (transfer full): the cipher for our messages
 * @receive: (out) (transfer full): the cipher for the peer's messages
 * @error: return location for a #GError
 *
 * Noise Split(). Only once, after the handshake finished (else WRONG_STATE).
 *
 * Returns: %TRUE on success
 */
gboolean
companion_noise_handshake_split (CompanionNoiseHandshake  *self,
                                 CompanionNoiseCipher    **send,
                                 CompanionNoiseCipher    **receive,
                                 GError                  **error)
{
  g_autoptr(CompanionNoiseCipher) c1 = NULL;
  g_autoptr(CompanionNoiseCipher) c2 = NULL;
  guint8 k1[HASH_LEN];
  guint8 k2[HASH_LEN];

  g_return_val_if_fail (COMPANION_IS_NOISE_HANDSHAKE (self), FALSE);
  g_return_val_if_fail (send != NULL && *send == NULL, FALSE);
  g_return_val_if_fail (receive != NULL && *receive == NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->state != STATE_FINISHED)
    {
      g_set_error (error, COMPANION_NOISE_ERROR, COMPANION_NOISE_ERROR_WRONG_STATE,
                   "%s cannot split: %s", self->protocol_name,
                   self->state == STATE_SPLIT ? "it was already split"
                   : self->state == STATE_FAILED ? "the handshake failed"
                   : "the handshake is not finished");
      return FALSE;
    }

  hkdf (self->secrets->ck, NULL, 0, k1, k2, NULL);
  c1 = companion_noise_cipher_new (k1);   /* truncated to 32 bytes */
  c2 = companion_noise_cipher_new (k2);
  sodium_memzero (k1, sizeof k1);
  sodium_memzero (k2, sizeof k2);

  wipe_secrets (self, FALSE);
  self->state = STATE_SPLIT;

  if (is_initiator (self))
    {
      *send = g_steal_pointer (&c1);
      *receive = g_steal_pointer (&c2);
    }
  else
    {
      *send = g_steal_pointer (&c2);
      *receive = g_steal_pointer (&c1);
    }

  return TRUE;
}
