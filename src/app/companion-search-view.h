/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-mirror-reader.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_SEARCH_VIEW (companion_search_view_get_type ())

G_DECLARE_FINAL_TYPE (CompanionSearchView, companion_search_view, COMPANION, SEARCH_VIEW, AdwBin)

/* Searches every mirrored message through READER as the user types (after
 * a short pause; a query typed over is cancelled), and lists the newest
 * matches with their chat, time and the words around the match, the match
 * highlighted. Signals: "open-message" (chat id, message id) when a result
 * is activated; "searched" (query, number of results shown). */
CompanionSearchView *companion_search_view_new         (CompanionMirrorReader *reader);
/* Puts the keyboard focus in the search entry, its text selected. */
void                 companion_search_view_focus_entry (CompanionSearchView   *self);

/* Searches for TEXT as if it had been typed. */
void                 companion_search_view_set_text    (CompanionSearchView   *self,
                                                        const char            *text);

G_END_DECLS
