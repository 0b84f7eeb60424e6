/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* Forward declarations of the core's types, so headers need not include each other. */
typedef struct _CompanionPairingOffer   CompanionPairingOffer;
typedef struct _CompanionPairingPayload CompanionPairingPayload;
typedef struct _CompanionQrCode         CompanionQrCode;

/* The documented default port the desktop listens on (docs/protocol.md). */
#define COMPANION_DEFAULT_PORT 47390

G_END_DECLS
