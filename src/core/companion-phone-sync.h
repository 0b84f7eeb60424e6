/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "companion-phone-client.h"
#include "companion-phone-store.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_PHONE_SYNC (companion_phone_sync_get_type ())

G_DECLARE_FINAL_TYPE (CompanionPhoneSync, companion_phone_sync, COMPANION, PHONE_SYNC, GObject)

/* The phone's side of sync (docs/protocol.md, "Sync"): answers the
 * desktop's sync-request with a snapshot or the changes after its cursor,
 * a bounded number of pages in flight, then streams new changes live.
 * Signal: "failed" (GError) when the store cannot be read. */
CompanionPhoneSync *companion_phone_sync_new            (CompanionPhoneClient *client,
                                                         CompanionPhoneStore  *store);
/* Call after changes were applied to the store, to send them live. */
void                companion_phone_sync_changes_added  (CompanionPhoneSync   *self);

G_END_DECLS
