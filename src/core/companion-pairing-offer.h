/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-types.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_PAIRING_OFFER (companion_pairing_offer_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPairingOffer, companion_pairing_offer,
                      COMPANION, PAIRING_OFFER, GObject)

/* A desktop's one-time X25519 key pair and pairing secret, and the payload
 * that publishes them. Addresses are taken in order while the payload stays
 * within its length limit. */
CompanionPairingOffer   *companion_pairing_offer_new            (GPtrArray *addresses,
                                                                 GError   **error);
CompanionPairingPayload *companion_pairing_offer_get_payload    (CompanionPairingOffer *self);
const guint8            *companion_pairing_offer_get_secret_key (CompanionPairingOffer *self);

G_END_DECLS
