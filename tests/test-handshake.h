/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "companion-noise.h"
#include "companion-pairing-payload.h"

G_BEGIN_DECLS

/* Noise driven by hand, for hostile clients: the messages a phone would
 * send, built by the test, so they can be altered, replayed or misaddressed. */

/* The phone's side of a session (KK) as the identity LOCAL_SECRET. */
CompanionNoiseHandshake *test_handshake_kk_initiator   (const guint8            *local_secret,
                                                        const guint8            *remote_public);
/* The phone's side of pairing with PAYLOAD; PSK replaces the payload's
 * secret when not NULL (the prologue still binds the payload as shown). */
CompanionNoiseHandshake *test_handshake_pair_initiator (CompanionPairingPayload *payload,
                                                        const guint8            *local_secret,
                                                        const guint8            *psk);
/* The next handshake message, carrying PAYLOAD (NULL: empty). */
GBytes                  *test_handshake_write          (CompanionNoiseHandshake *handshake,
                                                        const char              *payload);
GBytes                  *test_handshake_random_bytes   (gsize                    len);

G_END_DECLS
