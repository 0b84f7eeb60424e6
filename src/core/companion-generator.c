/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "companion-generator"

#include "config.h"

#include <string.h>

#include "companion-generator.h"
#include "companion-media-sample.h"

/* Everything comes from one GRand in a fixed order, and times from a fixed
 * "now", so a seed always gives the same data. Only integer arithmetic and
 * IEEE division feed the data (no libm), so it is the same on every machine. */
#define NOW_MS      G_GINT64_CONSTANT (1735689600000) /* 2025-01-01T00:00:00Z */
#define DAY_MS      G_GINT64_CONSTANT (86400000)
#define HISTORY_MS  (730 * DAY_MS)
#define REPLY_RING  32

G_DEFINE_QUARK (companion-generator-error-quark, companion_generator_error)

/* Languages: names, phone prefixes and sentences. */
typedef struct
{
  const char * const *first;
  const char * const *last;   /* NULL: "first" holds whole names */
  const char         *phone_prefix;
  const char * const *sentences;
} Language;

#define STRV(...) (const char * const[]) { __VA_ARGS__, NULL }

static const Language languages[] = {
  { STRV ("Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Mom ❤️", "Grace", "Oliver"),
    STRV ("Smith", "Johnson", "Brown", "Taylor", "O'Neil", "Walker", "Clarke"),
    "+1 (555) ",
    STRV ("Are we still on for tonight?", "I'll be there in 10 minutes", "Can you send me the document?",
          "Happy birthday!! 🎉", "Thanks a lot 🙏", "Ok", "lol", "Did you see the match last night?",
          "Meeting moved to 3pm", "Dinner at 8?", "Running late, sorry", "Call me when you can.",
          "Just landed ✈️", "Sounds good 👍", "Where did we park?", "Don't forget the keys") },
  { STRV ("José", "Zoë", "François", "Łukasz", "Søren", "Inês", "Jürgen", "Chloé", "Íñigo"),
    STRV ("García", "Müller", "Lefèvre", "Wójcik", "Ødegård", "Gonçalves", "Núñez", "Dvořák"),
    "+49 151 ",
    STRV ("Ça marche, à demain !", "¿Dónde estás? Te espero en la estación.", "Schöne Grüße aus München!",
          "Zażółć gęślą jaźń.", "Não esqueça de comprar pão.", "On se voit au café près de la gare ?",
          "Vielen Dank für gestern 😊", "¡Qué bueno! Nos vemos el sábado.", "Já cheguei.") },
  { STRV ("Анна", "Дмитрий", "Ольга", "Сергей", "Наталья", "Иван"),
    STRV ("Иванова", "Петров", "Смирнова", "Кузнецов", "Попова"),
    "+7 916 ",
    STRV ("Привет! Как дела?", "Скоро буду, жди.", "Спасибо большое!", "Во сколько встречаемся?",
          "Позвони мне, когда сможешь.") },
  { STRV ("Νίκος", "Μαρία", "Γιώργος", "Ελένη", "Κώστας"),
    STRV ("Παπαδόπουλος", "Οικονόμου", "Γεωργίου", "Νικολάου"),
    "+30 69 ",
    STRV ("Καλημέρα! Τι κάνεις;", "Τα λέμε αύριο.", "Ευχαριστώ πολύ!", "Πού είσαι;") },
  { STRV ("محمد", "فاطمة", "أحمد", "ليلى", "يوسف"),
    STRV ("العلي", "حداد", "منصور", "الخطيب"),
    "+971 50 ",
    STRV ("مرحبا! كيف حالك؟", "سأصل بعد عشر دقائق", "شكرا جزيلا", "الاجتماع الساعة 3pm على Zoom",
          "أين أنت الآن؟") },
  { STRV ("דוד", "שרה", "יוסי", "מיכל", "נועה"),
    STRV ("כהן", "לוי", "מזרחי", "פרץ"),
    "+972 52 ",
    STRV ("שלום, מה שלומך?", "נתראה מחר בבוקר", "תודה רבה!", "אני בדרך, 5 דקות", "מתי נפגשים?") },
  { STRV ("王伟", "李娜", "张敏", "刘洋", "陈静", "佐藤 花子", "鈴木 一郎", "김민준", "이서연"),
    NULL,
    "+86 138 ",
    STRV ("今天晚上一起吃饭吗？", "好的，明天见！", "了解しました。よろしくお願いします。", "내일 봐요!",
          "谢谢你的帮助 🙏", "駅に着いたら連絡してね") },
  { STRV ("राहुल", "प्रिया", "अमित", "सुनीता", "अर्जुन"),
    STRV ("शर्मा", "पटेल", "सिंह", "गुप्ता"),
    "+91 98 ",
    STRV ("नमस्ते! आप कैसे हैं?", "मैं रास्ते में हूँ।", "बहुत धन्यवाद!", "कल मिलते हैं।") },
};

static const char * const emoji[] = {
  "😂", "❤️", "👍", "🙏", "🎉", "😍", "😢", "🔥", "👀", "✅", "🤔", "😅", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽",
};
static const char * const reaction_emoji[] = { "👍", "❤️", "😂", "😮", "😢", "🙏", "🔥" };
static const char * const group_titles[] = {
  "Family 👨‍👩‍👧‍👦", "Équipe projet", "Друзья", "Οικογένεια", "العائلة", "משפחה", "サッカー部", "大学同学",
  "Book club 📚", "Weekend trip 🏔️", "हमारा परिवार", "Team standup", "Neighbours", "",
};
static const char * const document_names[] = {
  "Report", "Invoice", "Boarding pass", "Tickets", "Contract", "Menu", "Rechnung", "Счёт",
};

typedef struct
{
  CompanionPhoneStore *store;
  GRand               *rand;
  GPtrArray           *batch;
  guint64              last_seq;
  guint                n_contacts;
  guint               *contact_language;  /* per contact */
  GPtrArray           *media_hashes;      /* char *, per media */
  GPtrArray           *media_kinds;       /* const char *, per media */
} Generator;

/* Helpers */

static guint
pick (Generator *g,
      guint      n)
{
  g_assert (n > 0);
  return (guint) g_rand_int_range (g->rand, 0, (gint32) n);
}

static gboolean
chance (Generator *g,
        guint      percent_tenths)
{
  return pick (g, 1000) < percent_tenths;
}

static guint
strv_length (const char * const *strv)
{
  guint n = 0;

  while (strv[n] != NULL)
    n++;
  return n;
}

static const char *
pick_string (Generator          *g,
             const char * const *strv)
{
  return strv[pick (g, strv_length (strv))];
}

static char *
contact_id (guint index)
{
  return g_strdup_printf ("ct-%u", index + 1);
}

static gboolean
flush (Generator *g,
       GError   **error)
{
  guint64 seq;

  if (g->batch->len == 0)
    return TRUE;
  seq = companion_phone_store_apply (g->store, g->batch, error);
  if (seq == 0)
    return FALSE;
  g->last_seq = seq;
  g_ptr_array_set_size (g->batch, 0);
  return TRUE;
}

static gboolean
add (Generator      *g,
     CompanionEntity entity,
     JsonObject     *record,
     GError        **error)
{
  g_ptr_array_add (g->batch, companion_change_new_upsert (0, entity, record));
  json_object_unref (record);
  if (g->batch->len >= COMPANION_GENERATOR_BATCH)
    return flush (g, error);
  return TRUE;
}

static int
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* N distinct contacts, as a sorted JSON array of ids. */
static JsonArray *
pick_participants (Generator *g,
                   guint      n)
{
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autofree guint8 *taken = g_malloc0 (g->n_contacts);
  JsonArray *array = json_array_new ();

  n = MIN (n, g->n_contacts);
  while (ids->len < n)
    {
      guint c = pick (g, g->n_contacts);

      if (taken[c])
        continue;
      taken[c] = 1;
      g_ptr_array_add (ids, contact_id (c));
    }
  g_ptr_array_sort (ids, companion_compare_strings);
  for (guint i = 0; i < ids->len; i++)
    json_array_add_string_element (array, g_ptr_array_index (ids, i));
  return array;
}

/* Text */

static void
append_sentence (Generator *g,
                 GString   *text,
                 guint      language)
{
  /* Mostly the chat's language, sometimes English or another script. */
  guint lang = chance (g, 700) ? language : chance (g, 500) ? 0 : pick (g, G_N_ELEMENTS (languages));

  if (text->len > 0)
    g_string_append_c (text, ' ');
  g_string_append (text, pick_string (g, languages[lang].sentences));
  if (chance (g, 120))
    {
      g_string_append_c (text, ' ');
      g_string_append (text, emoji[pick (g, G_N_ELEMENTS (emoji))]);
    }
}

static char *
make_text (Generator *g,
           guint      language)
{
  GString *text = g_string_new (NULL);
  guint roll = pick (g, 1000);

  if (roll < 50)
    {
      /* Just emoji. */
      guint n = 1 + pick (g, 3);
      for (guint i = 0; i < n; i++)
        g_string_append (text, emoji[pick (g, G_N_ELEMENTS (emoji))]);
    }
  else if (roll < 650)
    append_sentence (g, text, language);
  else if (roll < 915)
    {
      guint n = 2 + pick (g, 3);
      for (guint i = 0; i < n; i++)
        append_sentence (g, text, language);
    }
  else if (roll < 995)
    {
      /* Long: a few hundred bytes to about 1.5 KB, in paragraphs. */
      guint n = 10 + pick (g, 30);
      for (guint i = 0; i < n; i++)
        {
          append_sentence (g, text, language);
          if (pick (g, 6) == 0)
            g_string_append (text, "\n\n");
        }
    }
  else
    {
      /* Very long: 2–6 KB. */
      gsize target = 2048 + pick (g, 4096);
      while (text->len < target)
        append_sentence (g, text, language);
    }
  return g_string_free (text, FALSE);
}

/* Generation steps */

static gboolean
generate_contacts (Generator *g,
                   guint      n,
                   GError   **error)
{
  g->n_contacts = n;
  g->contact_language = g_new0 (guint, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    {
      JsonObject *record = json_object_new ();
      g_autofree char *id = contact_id (i);
      /* About 40% English, the rest spread over the other scripts. */
      guint lang = chance (g, 400) ? 0 : 1 + pick (g, G_N_ELEMENTS (languages) - 1);
      const Language *l = &languages[lang];
      g_autofree char *name = NULL;

      g->contact_language[i] = lang;
      if (l->last == NULL)
        name = g_strdup (pick_string (g, l->first));
      else
        {
          const char *first = pick_string (g, l->first);
          name = g_strdup_printf ("%s %s", first, pick_string (g, l->last));
        }
      json_object_set_string_member (record, "id", id);
      json_object_set_string_member (record, "name", name);
      if (!chance (g, 100))
        {
          g_autofree char *phone = g_strdup_printf ("%s%03u-%04u", l->phone_prefix,
                                                    pick (g, 1000), pick (g, 10000));
          json_object_set_string_member (record, "phone", phone);
        }
      if (!add (g, COMPANION_ENTITY_CONTACT, record, error))
        return FALSE;
    }
  return flush (g, error);
}

static gboolean
generate_media (Generator *g,
                guint      n,
                GError   **error)
{
  for (guint i = 0; i < n; i++)
    {
      JsonObject *record = json_object_new ();
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *hash = NULL;
      g_autofree char *name = NULL;
      guint roll = pick (g, 100);
      guint width = 0, height = 0, duration_ms = 0;
      g_autofree char *thumbnail = NULL;
      const char *kind, *mime;

      if (roll < 60)
        {
          bytes = companion_media_sample_png (g->rand, i, &width, &height, &thumbnail);
          kind = "image";
          mime = "image/png";
          name = g_strdup_printf ("IMG_%05u.png", i + 1);
        }
      else if (roll < 85)
        {
          bytes = companion_media_sample_wav (g->rand, i, &duration_ms);
          kind = "voice";
          mime = "audio/wav";
          name = g_strdup_printf ("voice-note-%05u.wav", i + 1);
        }
      else
        {
          const char *base = document_names[pick (g, G_N_ELEMENTS (document_names))];
          g_autofree char *title = g_strdup_printf ("Companion document %u", i + 1);

          bytes = companion_media_sample_pdf (title);
          kind = "document";
          mime = "application/pdf";
          name = g_strdup_printf ("%s %u.pdf", base, i + 1);
        }

      hash = companion_phone_store_add_media_bytes (g->store, bytes, error);
      if (hash == NULL)
        {
          json_object_unref (record);
          return FALSE;
        }
      json_object_set_string_member (record, "hash", hash);
      json_object_set_string_member (record, "kind", kind);
      json_object_set_string_member (record, "mime", mime);
      json_object_set_string_member (record, "name", name);
      json_object_set_int_member (record, "size", (gint64) g_bytes_get_size (bytes));
      if (width > 0)
        {
          json_object_set_int_member (record, "width", width);
          json_object_set_int_member (record, "height", height);
        }
      if (thumbnail != NULL)
        json_object_set_string_member (record, "thumbnail", thumbnail);
      if (duration_ms > 0)
        json_object_set_int_member (record, "duration_ms", duration_ms);
      g_ptr_array_add (g->media_hashes, g_steal_pointer (&hash));
      g_ptr_array_add (g->media_kinds, (gpointer) kind);
      if (!add (g, COMPANION_ENTITY_MEDIA, record, error))
        return FALSE;
    }
  return flush (g, error);
}

typedef struct
{
  char      *id;
  gboolean   group;
  guint      contact;       /* direct chats */
  JsonArray *participants;
  guint      language;
  guint      n_messages;
} Chat;

static void
chat_clear (Chat *chat)
{
  g_free (chat->id);
  g_clear_pointer (&chat->participants, json_array_unref);
}

/* Message counts per chat: Zipf (weight 1/rank) over a shuffled ranking. */
static void
distribute_messages (Generator *g,
                     Chat      *chats,
                     guint      n_chats,
                     guint      n_messages)
{
  g_autofree guint *rank_to_chat = g_new (guint, n_chats);
  double total = 0;
  guint given = 0;

  for (guint i = 0; i < n_chats; i++)
    rank_to_chat[i] = i;
  for (guint i = n_chats; i > 1; i--)
    {
      guint j = pick (g, i);
      guint t = rank_to_chat[i - 1];
      rank_to_chat[i - 1] = rank_to_chat[j];
      rank_to_chat[j] = t;
    }
  for (guint r = 0; r < n_chats; r++)
    total += 1.0 / (r + 1);
  for (guint r = 0; r < n_chats; r++)
    {
      guint n = (guint) ((double) n_messages * (1.0 / (r + 1)) / total);
      chats[rank_to_chat[r]].n_messages = n;
      given += n;
    }
  for (guint r = 0; given < n_messages; r = (r + 1) % n_chats, given++)
    chats[rank_to_chat[r]].n_messages++;
}

static gboolean
generate_chats (Generator *g,
                Chat      *chats,
                guint      n_chats,
                guint      n_messages,
                GError   **error)
{
  guint next_direct = 0;
  guint pinned = 0;

  for (guint i = 0; i < n_chats; i++)
    {
      Chat *chat = &chats[i];

      chat->id = g_strdup_printf ("ch-%u", i + 1);
      /* About 20% groups; a direct chat per contact while they last. */
      chat->group = chance (g, 200) || next_direct >= g->n_contacts;
      if (chat->group)
        {
          chat->participants = pick_participants (g, 3 + pick (g, 28));
          chat->language = pick (g, G_N_ELEMENTS (languages));
        }
      else
        {
          g_autofree char *contact = contact_id (next_direct);

          chat->contact = next_direct++;
          chat->participants = json_array_new ();
          json_array_add_string_element (chat->participants, contact);
          chat->language = g->contact_language[chat->contact];
        }
    }
  distribute_messages (g, chats, n_chats, n_messages);

  for (guint i = 0; i < n_chats; i++)
    {
      Chat *chat = &chats[i];
      JsonObject *record = json_object_new ();
      gboolean pin = pinned < 3 && chance (g, 30);
      guint unread = chat->n_messages > 0 && chance (g, 300) ? 1 + pick (g, MIN (chat->n_messages, 25)) : 0;

      json_object_set_string_member (record, "id", chat->id);
      json_object_set_string_member (record, "kind", chat->group ? "group" : "direct");
      if (chat->group)
        json_object_set_string_member (record, "title", group_titles[pick (g, G_N_ELEMENTS (group_titles))]);
      else
        json_object_set_string_member (record, "title", "");
      json_object_set_array_member (record, "participants", json_array_ref (chat->participants));
      json_object_set_int_member (record, "unread", unread);
      json_object_set_boolean_member (record, "pinned", pin);
      json_object_set_boolean_member (record, "muted", chance (g, 100));
      json_object_set_boolean_member (record, "archived", !pin && chance (g, 50));
      pinned += pin;
      if (!add (g, COMPANION_ENTITY_CHAT, record, error))
        return FALSE;
    }
  return flush (g, error);
}

static gboolean
generate_messages (Generator *g,
                   Chat      *chats,
                   guint      n_chats,
                   guint      n_messages,
                   GError   **error)
{
  g_autofree gint32 *media_of = NULL;
  g_autofree guint64 *gaps = NULL;
  guint max_messages = 0;
  guint next_message = 0;
  guint n_media = g->media_hashes->len;

  /* Which messages show which media: each media once, at random. */
  media_of = g_new (gint32, MAX (n_messages, 1));
  for (guint i = 0; i < n_messages; i++)
    media_of[i] = -1;
  for (guint m = 0; m < n_media && m < n_messages; m++)
    {
      guint at;
      do
        at = pick (g, n_messages);
      while (media_of[at] >= 0);
      media_of[at] = (gint32) m;
    }

  for (guint c = 0; c < n_chats; c++)
    max_messages = MAX (max_messages, chats[c].n_messages);
  gaps = g_new (guint64, max_messages + 1);

  for (guint c = 0; c < n_chats; c++)
    {
      Chat *chat = &chats[c];
      guint n = chat->n_messages;
      gint64 span = DAY_MS + (gint64) pick (g, (guint) (HISTORY_MS / 1000 - DAY_MS / 1000)) * 1000;
      gint64 start = NOW_MS - span;
      gint64 previous_time = start;
      guint64 total_gap = 0, prefix = 0;
      guint ring[REPLY_RING];
      guint ring_len = 0;
      guint n_participants = json_array_get_length (chat->participants);

      /* Bursty gaps: mostly seconds to minutes, sometimes hours or days,
       * scaled so the chat spans SPAN. */
      for (guint i = 0; i < n; i++)
        {
          guint roll = pick (g, 100);
          gaps[i] = roll < 70 ? 1 + pick (g, 300) : roll < 95 ? 300 + pick (g, 20000) : 20000 + pick (g, 500000);
          total_gap += gaps[i];
        }

      for (guint i = 0; i < n; i++, next_message++)
        {
          JsonObject *record = json_object_new ();
          g_autofree char *id = g_strdup_printf ("m-%u", next_message + 1);
          gboolean outgoing = chance (g, 400);
          gboolean deleted = chance (g, 10);
          gint64 time;

          prefix += gaps[i];
          time = start + (gint64) ((double) span * (double) prefix / (double) total_gap);
          time = MAX (time, previous_time + 1);
          previous_time = time;

          json_object_set_string_member (record, "id", id);
          json_object_set_string_member (record, "chat", chat->id);
          json_object_set_int_member (record, "time", time);
          if (!outgoing)
            json_object_set_string_member (record, "from",
                                           json_array_get_string_element (chat->participants,
                                                                          pick (g, n_participants)));
          else
            {
              const char *status = "read";
              if (i + 2 >= n && chance (g, 500))
                status = chance (g, 300) ? "pending" : "sent";
              else if (chance (g, 150))
                status = "delivered";
              json_object_set_string_member (record, "status", status);
            }

          if (deleted)
            {
              json_object_set_string_member (record, "text", "");
              json_object_set_boolean_member (record, "deleted", TRUE);
            }
          else
            {
              gint32 media = media_of[next_message];
              g_autofree char *text = NULL;

              if (media >= 0)
                {
                  const char *kind = g_ptr_array_index (g->media_kinds, media);
                  json_object_set_string_member (record, "media", g_ptr_array_index (g->media_hashes, media));
                  text = g_str_equal (kind, "voice") || chance (g, 500) ? g_strdup ("")
                                                                        : make_text (g, chat->language);
                }
              else
                text = make_text (g, chat->language);
              json_object_set_string_member (record, "text", text);
              json_object_set_boolean_member (record, "deleted", FALSE);

              if (ring_len > 0 && chance (g, 80))
                {
                  g_autofree char *reply = g_strdup_printf ("m-%u", ring[pick (g, MIN (ring_len, REPLY_RING))] + 1);
                  json_object_set_string_member (record, "reply_to", reply);
                }
              if (chance (g, 30))
                json_object_set_int_member (record, "edited_at", time + 1000 + pick (g, 3600000));
              if (chance (g, 60))
                {
                  JsonObject *reactions = json_object_new ();
                  guint k = 1 + pick (g, 3);

                  for (guint r = 0; r < k; r++)
                    {
                      const char *who = pick (g, n_participants + 1) == 0
                                          ? "me"
                                          : json_array_get_string_element (chat->participants,
                                                                           pick (g, n_participants));
                      json_object_set_string_member (reactions, who,
                                                     reaction_emoji[pick (g, G_N_ELEMENTS (reaction_emoji))]);
                    }
                  json_object_set_object_member (record, "reactions", reactions);
                }
            }
          ring[ring_len % REPLY_RING] = next_message;
          ring_len++;
          if (!add (g, COMPANION_ENTITY_MESSAGE, record, error))
            return FALSE;
        }
    }
  return flush (g, error);
}

static gboolean
generate_calls (Generator *g,
                guint      n,
                GError   **error)
{
  g_autofree gint64 *times = g_new (gint64, MAX (n, 1));

  if (n > 0 && g->n_contacts == 0)
    {
      g_set_error_literal (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC,
                           "calls need contacts");
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    times[i] = NOW_MS - HISTORY_MS + (gint64) pick (g, (guint) (HISTORY_MS / 1000)) * 1000 + pick (g, 1000);
  qsort (times, n, sizeof *times, compare_int64);

  for (guint i = 0; i < n; i++)
    {
      JsonObject *record = json_object_new ();
      g_autofree char *id = g_strdup_printf ("call-%u", i + 1);
      gboolean incoming = chance (g, 600);
      gboolean missed = incoming && chance (g, 300);
      guint roll = pick (g, 100);
      guint duration = missed ? 0 : roll < 10 ? 0 : roll < 70 ? 5 + pick (g, 300) : 300 + pick (g, 7200);

      json_object_set_string_member (record, "id", id);
      json_object_set_string_member (record, "kind", chance (g, 250) ? "video" : "voice");
      json_object_set_string_member (record, "direction", incoming ? "incoming" : "outgoing");
      json_object_set_boolean_member (record, "missed", missed);
      json_object_set_int_member (record, "time", times[i]);
      json_object_set_int_member (record, "duration_s", duration);
      json_object_set_array_member (record, "participants",
                                    pick_participants (g, chance (g, 100) ? 2 + pick (g, 5) : 1));
      if (!add (g, COMPANION_ENTITY_CALL, record, error))
        return FALSE;
    }
  return flush (g, error);
}

/* Public API */

gboolean
companion_generator_parse_spec (const char             *text,
                                CompanionGeneratorSpec *spec,
                                GError                **error)
{
  static const struct
  {
    const char *key;
    guint64     max;
  } keys[] = {
    { "chats", COMPANION_GENERATOR_MAX_CHATS },
    { "messages", COMPANION_GENERATOR_MAX_MESSAGES },
    { "media", COMPANION_GENERATOR_MAX_MEDIA },
    { "calls", COMPANION_GENERATOR_MAX_CALLS },
    { "seed", G_MAXUINT32 },
  };
  g_auto(GStrv) items = NULL;
  guint64 values[G_N_ELEMENTS (keys)] = { 20, 500, 10, 30, 1 };
  gboolean seen[G_N_ELEMENTS (keys)] = { FALSE };

  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (spec != NULL, FALSE);

  items = g_strsplit (text, ",", -1);
  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *item = items[i];
      const char *eq = strchr (item, '=');
      g_autofree char *key = NULL;
      const char *value;
      guint64 number = 0;
      guint k;

      if (*item == '\0' && items[1] == NULL)
        break; /* an empty SPEC */
      if (eq == NULL)
        {
          g_set_error (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC,
                       "Invalid generator spec “%s”: “%s” is not KEY=NUMBER", text, item);
          return FALSE;
        }
      key = g_strndup (item, (gsize) (eq - item));
      value = eq + 1;
      for (k = 0; k < G_N_ELEMENTS (keys); k++)
        if (g_str_equal (key, keys[k].key))
          break;
      if (k == G_N_ELEMENTS (keys))
        {
          g_set_error (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC,
                       "Invalid generator spec: unknown key “%s” (known: chats, messages, media, calls, seed)",
                       key);
          return FALSE;
        }
      if (seen[k])
        {
          g_set_error (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC,
                       "Invalid generator spec: “%s” is given twice", key);
          return FALSE;
        }
      seen[k] = TRUE;
      if (*value == '\0' || strspn (value, "0123456789") != strlen (value))
        {
          g_set_error (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC,
                       "Invalid generator spec: “%s” must be a whole number, not “%s”", key, value);
          return FALSE;
        }
      if (strlen (value) > 12 ||
          !g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT64, &number, NULL) ||
          number > keys[k].max)
        {
          g_set_error (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC,
                       "Invalid generator spec: “%s” is %s, more than the maximum of %" G_GUINT64_FORMAT,
                       key, value, keys[k].max);
          return FALSE;
        }
      values[k] = number;
    }

  if (values[1] > 0 && values[0] == 0)
    {
      g_set_error (error, COMPANION_GENERATOR_ERROR, COMPANION_GENERATOR_ERROR_INVALID_SPEC,
                   "Invalid generator spec: “messages” needs “chats” of at least 1");
      return FALSE;
    }
  spec->chats = (guint) values[0];
  spec->messages = (guint) values[1];
  spec->media = (guint) values[2];
  spec->calls = (guint) values[3];
  spec->seed = (guint32) values[4];
  return TRUE;
}

gboolean
companion_generator_run (CompanionPhoneStore          *store,
                         const CompanionGeneratorSpec *spec,
                         CompanionGeneratorCounts     *counts_out,
                         GError                      **error)
{
  Generator g = { 0 };
  Chat *chats;
  guint n_contacts;
  gboolean ok;

  g_return_val_if_fail (COMPANION_IS_PHONE_STORE (store), FALSE);
  g_return_val_if_fail (spec != NULL, FALSE);

  /* About 1.2 contacts per chat; a few even without chats, for calls. */
  n_contacts = spec->chats + spec->chats / 5 + (spec->chats > 0 || spec->calls > 0 ? 3 : 0);

  g.store = store;
  g.rand = g_rand_new_with_seed (spec->seed);
  g.batch = g_ptr_array_new_with_free_func ((GDestroyNotify) companion_change_free);
  g.media_hashes = g_ptr_array_new_with_free_func (g_free);
  g.media_kinds = g_ptr_array_new ();
  chats = g_new0 (Chat, MAX (spec->chats, 1));

  ok = generate_contacts (&g, n_contacts, error) &&
       generate_media (&g, spec->media, error) &&
       generate_chats (&g, chats, spec->chats, spec->messages, error) &&
       generate_messages (&g, chats, spec->chats, spec->messages, error) &&
       generate_calls (&g, spec->calls, error);

  if (ok && counts_out != NULL)
    {
      counts_out->contacts = n_contacts;
      counts_out->chats = spec->chats;
      counts_out->messages = spec->messages;
      counts_out->media = spec->media;
      counts_out->calls = spec->calls;
      counts_out->last_seq = g.last_seq;
    }

  for (guint i = 0; i < spec->chats; i++)
    chat_clear (&chats[i]);
  g_free (chats);
  g_free (g.contact_language);
  g_ptr_array_unref (g.media_kinds);
  g_ptr_array_unref (g.media_hashes);
  g_ptr_array_unref (g.batch);
  g_rand_free (g.rand);
  return ok;
}
