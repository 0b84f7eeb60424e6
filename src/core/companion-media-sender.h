/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-phone-client.h"
#include "companion-phone-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_MEDIA_SENDER (companion_media_sender_get_type ())

G_DECLARE_FINAL_TYPE (CompanionMediaSender, companion_media_sender, COMPANION, MEDIA_SENDER, GObject)

/* The phone's side of media transfer (docs/protocol.md, "Media transfer"):
 * answers each media-request with the file's chunks from the requested
 * offset, read from the store's media folder a chunk at a time, one media
 * at a time in request order, never more than COMPANION_MEDIA_WINDOW chunks
 * unacknowledged (libsoup queues without bound), then media-end; or a
 * media-error for an unknown hash or an offset past the end. */
CompanionMediaSender *companion_media_sender_new            (CompanionPhoneClient *client,
                                                             CompanionPhoneStore  *store);
/* Bytes of chunk data sent since the sender was made (for tests). */
guint64               companion_media_sender_get_bytes_sent (CompanionMediaSender *self);

G_END_DECLS
