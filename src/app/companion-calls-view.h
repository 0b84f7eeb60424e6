/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "companion-mirror-reader.h"

G_BEGIN_DECLS

#define COMPANION_TYPE_CALLS_VIEW (companion_calls_view_get_type ())

G_DECLARE_FINAL_TYPE (CompanionCallsView, companion_calls_view, COMPANION, CALLS_VIEW, AdwBin)

/* The call log, newest first, under one heading a day ("Today",
 * "Yesterday", then dates): who, voice or video, incoming or outgoing,
 * missed ones marked, and how long. Read through READER a page at a time,
 * the next page when the list is scrolled to its end. The "loaded" signal
 * says a page is shown. */
CompanionCallsView *companion_calls_view_new    (CompanionMirrorReader *reader);
/* Reads the log again from the start, after calls or contacts changed. */
void                companion_calls_view_reload (CompanionCallsView    *self);

G_END_DECLS
