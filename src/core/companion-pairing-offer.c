/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-pairing-offer"

#include "config.h"

#include <sodium.h>

#include "companion-pairing-offer.h"
#include "companion-pairing-payload.h"

struct _CompanionPairingOffer
{
  GObject                  parent_instance;

  guint8                  *secret_key; /* sodium_malloc: locked, wiped on free */
  CompanionPairingPayload *payload;
};

G_DEFINE_FINAL_TYPE (CompanionPairingOffer, companion_pairing_offer, G_TYPE_OBJECT)

static void
companion_pairing_offer_dispose (GObject *object)
{
  CompanionPairingOffer *self = COMPANION_PAIRING_OFFER (object);

  g_clear_object (&self->payload);

  G_OBJECT_CLASS (companion_pairing_offer_parent_class)->dispose (object);
}

static void
companion_pairing_offer_finalize (GObject *object)
{
  CompanionPairingOffer *self = COMPANION_PAIRING_OFFER (object);

  g_clear_pointer (&self->secret_key, sodium_free);

  G_OBJECT_CLASS (companion_pairing_offer_parent_class)->finalize (object);
}

static void
companion_pairing_offer_class_init (CompanionPairingOfferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = companion_pairing_offer_dispose;
  object_class->finalize = companion_pairing_offer_finalize;
}

static void
companion_pairing_offer_init (CompanionPairingOffer *self)
{
  self->secret_key = sodium_malloc (crypto_box_SECRETKEYBYTES);
  g_assert (self->secret_key != NULL);
}

CompanionPairingOffer *
companion_pairing_offer_new (GPtrArray *addresses,
                             GError   **error)
{
  g_autoptr(CompanionPairingOffer) self = NULL;
  g_autoptr(GPtrArray) chosen = NULL;
  guint8 public_key[crypto_scalarmult_BYTES];
  guint8 *psk;

  g_return_val_if_fail (addresses != NULL, NULL);

  chosen = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < addresses->len && chosen->len < COMPANION_PAIRING_PAYLOAD_MAX_ADDRESSES; i++)
    {
      g_ptr_array_add (chosen, g_object_ref (g_ptr_array_index (addresses, i)));
      if (companion_pairing_payload_encoded_length (chosen) > COMPANION_PAIRING_PAYLOAD_MAX_LENGTH)
        g_ptr_array_remove_index (chosen, chosen->len - 1);
    }

  self = g_object_new (COMPANION_TYPE_PAIRING_OFFER, NULL);
  randombytes_buf (self->secret_key, crypto_scalarmult_SCALARBYTES);
  crypto_scalarmult_base (public_key, self->secret_key);

  psk = sodium_malloc (COMPANION_PAIRING_PSK_SIZE);
  g_assert (psk != NULL);
  randombytes_buf (psk, COMPANION_PAIRING_PSK_SIZE);
  self->payload = companion_pairing_payload_new (public_key, psk, chosen, error);
  sodium_free (psk);

  if (self->payload == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

CompanionPairingPayload *
companion_pairing_offer_get_payload (CompanionPairingOffer *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_OFFER (self), NULL);
  return self->payload;
}

const guint8 *
companion_pairing_offer_get_secret_key (CompanionPairingOffer *self)
{
  g_return_val_if_fail (COMPANION_IS_PAIRING_OFFER (self), NULL);
  return self->secret_key;
}

