"""Email's strings in English and Ukrainian: the emails themselves (`mail.*`) and the
settings and password reset pages; `translate` is core/i18n's, named here for the emails.
"""

from __future__ import annotations

from chatiq.core import i18n
from chatiq.core.i18n import translate

__all__ = ["EN", "UK", "translate"]

EN = {
    "nav.mail": "Email",
    # the emails
    "mail.footer": "Sent by ChatIQ on behalf of {org}.",
    "mail.missed.subject": "Missed chat on {site}",
    "mail.missed.intro": "A visitor on {site} has waited {minutes} min for a reply.",
    "mail.missed.visitor": "Visitor",
    "mail.missed.page": "Page",
    "mail.missed.more": "…and more in the chat.",
    "mail.missed.attachment": "(a file)",
    "mail.author.visitor": "Visitor #{n}",
    "mail.author.operator": "Operator",
    "mail.author.bot": "Bot",
    "mail.author.system": "System",
    "mail.attachment": "File",
    "mail.missed.open": "Open the chat",
    "mail.transcript.subject": "Your conversation with {site}",
    "mail.transcript.intro": "Here is a copy of your conversation with {site}.",
    "mail.transcript.truncated": "Only the last {n} messages are included.",
    "mail.invite.subject": "{inviter} invited you to {org} on ChatIQ",
    "mail.invite.intro": "{inviter} invited you to answer chats for {org}. Set your password"
                         " to join: the link works once, for 7 days.",
    "mail.invite.button": "Accept the invitation",
    "mail.reset.subject": "Reset your ChatIQ password",
    "mail.reset.intro": "Someone, hopefully you, asked to reset the password of {email}."
                        " The link works once, for one hour.",
    "mail.reset.button": "Set a new password",
    "mail.reset.ignore": "If it was not you, ignore this email: your password stays as it is.",
    "mail.test.subject": "ChatIQ test email",
    "mail.test.body": "Your SMTP settings work: this message reached you.",
    # the settings page
    "mail.title": "Email",
    "mail.smtp": "SMTP server",
    "mail.smtp_help": "ChatIQ emails missed chats to your team, transcripts to visitors who"
                      " ask for one, invitations and password resets through this server."
                      " Without it nothing is emailed.",
    "mail.host": "Server",
    "mail.port": "Port",
    "mail.security": "Security",
    "mail.security.none": "None",
    "mail.security.starttls": "STARTTLS",
    "mail.security.tls": "TLS",
    "mail.username": "User name",
    "mail.password": "Password",
    "mail.password_kept": "A password is saved. Leave the field empty to keep it.",
    "mail.password_clear": "Remove the saved password",
    "mail.from_email": "From address",
    "mail.from_name": "From name",
    "mail.links_from": "Links in emails start with {url} (the address you saved these"
                       " settings from).",
    "mail.saved": "Email settings saved.",
    "mail.remove": "Stop sending email",
    "mail.removed": "Email settings removed: nothing will be emailed.",
    "mail.not_configured": "Email is not set up: nothing is emailed.",
    "mail.state_on": "Email is on: sent through {host}:{port} from {sender}.",
    "mail.state_off": "Email is off. Nothing is emailed: no password-reset links (use"
                      " `chatiq passwd` on the server), no transcripts, no missed-chat alerts;"
                      " the widget keeps a visitor's email only as a contact.",
    "mail.test": "Send a test email",
    "mail.test_to": "To",
    "mail.test_sent": "The test email was accepted for {email}.",
    "mail.test_failed": "The test email failed: {reason}",
    "mail.test_needs_settings": "Save the SMTP settings first.",
    "mail.missed": "Missed chats",
    "mail.missed_help": "Email the site's team when a visitor has had no reply for this many"
                        " minutes (0: never).",
    "mail.minutes": "Minutes",
    "mail.missed_saved": "Saved for {site}.",
    "mail.log": "Recent emails",
    "mail.log_empty": "No emails yet.",
    "mail.log.when": "Queued",
    "mail.log.what": "What",
    "mail.log.status": "Status",
    "mail.log.attempts": "Attempts",
    "mail.log.error": "Last error",
    "mail.kind.missed": "Missed chat",
    "mail.kind.transcript": "Transcript",
    "mail.kind.invite": "Invitation",
    "mail.kind.reset": "Password reset",
    "mail.status.pending": "Waiting",
    "mail.status.sent": "Sent",
    "mail.status.failed": "Failed",
    "mail.bad_host": "Enter the mail server's host name.",
    "mail.bad_port": "The port is a number from 1 to 65535.",
    "mail.bad_security": "Choose how to secure the connection.",
    "mail.bad_from": "Enter a valid from address.",
    "mail.bad_text": "{field}: at most {n} characters, on one line.",
    "mail.bad_minutes": "Enter whole minutes from 0 to 1440.",
    # team
    "team.link_emailed": "The link was also emailed to {email}.",
    # password reset
    "reset.forgot": "Forgot password?",
    "reset.title": "Reset your password",
    "reset.help": "Enter your account's email address and we will email you a link to set a"
                  " new password.",
    "reset.send": "Email me a link",
    "reset.sent": "If an account with that address exists, a link is on its way. It works"
                  " once, for one hour.",
    "reset.no_mail": "Email is not set up on this server, so no reset link can be sent. Whoever"
                     " runs the server can set a new password with:",
    "reset.no_mail_owner": "Once an owner sets up email (Email in the panel), this page emails"
                           " links.",
    "reset.new_title": "Set a new password",
    "reset.new_intro": "For {email}.",
    "reset.new_submit": "Save the new password",
    "reset.invalid": "This link is invalid, used or expired. Ask for a new one.",
    "reset.ask_again": "Ask for a new link",
    "reset.done": "Your password was changed. Log in with the new one.",
    "reset.rate_limited": "Too many requests. Try again in {seconds} seconds.",
}

UK = {
    "nav.mail": "Пошта",
    "mail.footer": "Надіслано ChatIQ від імені {org}.",
    "mail.missed.subject": "Пропущений чат на {site}",
    "mail.missed.intro": "Відвідувач на {site} чекає на відповідь уже {minutes} хв.",
    "mail.missed.visitor": "Відвідувач",
    "mail.missed.page": "Сторінка",
    "mail.missed.more": "…і далі в чаті.",
    "mail.missed.attachment": "(файл)",
    "mail.author.visitor": "Відвідувач #{n}",
    "mail.author.operator": "Оператор",
    "mail.author.bot": "Бот",
    "mail.author.system": "Система",
    "mail.attachment": "Файл",
    "mail.missed.open": "Відкрити чат",
    "mail.transcript.subject": "Ваша розмова з {site}",
    "mail.transcript.intro": "Ось копія вашої розмови з {site}.",
    "mail.transcript.truncated": "Лише останні {n} повідомлень.",
    "mail.invite.subject": "{inviter} запрошує вас до {org} у ChatIQ",
    "mail.invite.intro": "{inviter} запрошує вас відповідати в чатах {org}. Задайте пароль,"
                         " щоб приєднатися: посилання діє один раз, 7 днів.",
    "mail.invite.button": "Прийняти запрошення",
    "mail.reset.subject": "Скидання пароля ChatIQ",
    "mail.reset.intro": "Хтось, сподіваємося ви, попросив скинути пароль {email}."
                        " Посилання діє один раз, одну годину.",
    "mail.reset.button": "Задати новий пароль",
    "mail.reset.ignore": "Якщо це були не ви, просто проігноруйте лист: пароль не зміниться.",
    "mail.test.subject": "Тестовий лист ChatIQ",
    "mail.test.body": "Налаштування SMTP працюють: цей лист дійшов до вас.",
    "mail.title": "Пошта",
    "mail.smtp": "SMTP-сервер",
    "mail.smtp_help": "Через цей сервер ChatIQ надсилає команді листи про пропущені чати,"
                      " відвідувачам — копії розмов на їхній запит, а також запрошення і"
                      " скидання пароля. Без нього листи не надсилаються.",
    "mail.host": "Сервер",
    "mail.port": "Порт",
    "mail.security": "Захист",
    "mail.security.none": "Без захисту",
    "mail.security.starttls": "STARTTLS",
    "mail.security.tls": "TLS",
    "mail.username": "Ім’я користувача",
    "mail.password": "Пароль",
    "mail.password_kept": "Пароль збережено. Залиште поле порожнім, щоб не змінювати його.",
    "mail.password_clear": "Видалити збережений пароль",
    "mail.from_email": "Адреса відправника",
    "mail.from_name": "Ім’я відправника",
    "mail.links_from": "Посилання в листах починаються з {url} (адреса, з якої збережено"
                       " ці налаштування).",
    "mail.saved": "Налаштування пошти збережено.",
    "mail.remove": "Не надсилати листи",
    "mail.removed": "Налаштування пошти видалено: листи не надсилаються.",
    "mail.not_configured": "Пошту не налаштовано: листи не надсилаються.",
    "mail.state_on": "Пошту ввімкнено: листи йдуть через {host}:{port} від {sender}.",
    "mail.state_off": "Пошту вимкнено. Листи не надсилаються: ні посилань для скидання пароля"
                      " (на сервері є `chatiq passwd`), ні копій розмов, ні сповіщень про"
                      " пропущені чати; віджет зберігає email відвідувача лише як контакт.",
    "mail.test": "Надіслати тестовий лист",
    "mail.test_to": "Кому",
    "mail.test_sent": "Тестовий лист для {email} прийнято.",
    "mail.test_failed": "Тестовий лист не надіслано: {reason}",
    "mail.test_needs_settings": "Спершу збережіть налаштування SMTP.",
    "mail.missed": "Пропущені чати",
    "mail.missed_help": "Написати команді сайту, якщо відвідувач стільки хвилин не отримує"
                        " відповіді (0: ніколи).",
    "mail.minutes": "Хвилини",
    "mail.missed_saved": "Збережено для {site}.",
    "mail.log": "Останні листи",
    "mail.log_empty": "Листів ще не було.",
    "mail.log.when": "У черзі з",
    "mail.log.what": "Що",
    "mail.log.status": "Стан",
    "mail.log.attempts": "Спроби",
    "mail.log.error": "Остання помилка",
    "mail.kind.missed": "Пропущений чат",
    "mail.kind.transcript": "Копія розмови",
    "mail.kind.invite": "Запрошення",
    "mail.kind.reset": "Скидання пароля",
    "mail.status.pending": "Очікує",
    "mail.status.sent": "Надіслано",
    "mail.status.failed": "Не вдалося",
    "mail.bad_host": "Введіть адресу поштового сервера.",
    "mail.bad_port": "Порт — число від 1 до 65535.",
    "mail.bad_security": "Виберіть, як захистити з’єднання.",
    "mail.bad_from": "Введіть правильну адресу відправника.",
    "mail.bad_text": "{field}: не більше {n} символів, в один рядок.",
    "mail.bad_minutes": "Введіть ціле число хвилин від 0 до 1440.",
    "team.link_emailed": "Посилання також надіслано на {email}.",
    "reset.forgot": "Забули пароль?",
    "reset.title": "Скидання пароля",
    "reset.help": "Введіть адресу свого облікового запису, і ми надішлемо посилання, щоб"
                  " задати новий пароль.",
    "reset.send": "Надіслати посилання",
    "reset.sent": "Якщо обліковий запис із такою адресою існує, посилання вже в дорозі. Воно"
                  " діє один раз, одну годину.",
    "reset.no_mail": "На цьому сервері не налаштовано пошту, тож посилання для скидання не"
                     " надіслати. Той, хто керує сервером, може задати новий пароль командою:",
    "reset.no_mail_owner": "Щойно власник налаштує пошту (розділ «Пошта» в панелі), ця сторінка"
                           " надсилатиме посилання.",
    "reset.new_title": "Новий пароль",
    "reset.new_intro": "Для {email}.",
    "reset.new_submit": "Зберегти новий пароль",
    "reset.invalid": "Посилання недійсне, уже використане або застаріле. Попросіть нове.",
    "reset.ask_again": "Попросити нове посилання",
    "reset.done": "Пароль змінено. Увійдіть з новим паролем.",
    "reset.rate_limited": "Забагато запитів. Спробуйте знову через {seconds} с.",
}

i18n.add(EN, UK)
