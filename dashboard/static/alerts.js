// The owner's Alerts page: a "Copy" button beside a new webhook's secret. Without
// JavaScript (or a clipboard) the secret is selected whole with one click (CSS).
(function () {
  'use strict';
  var secret = document.getElementById('new-secret');
  if (!secret || !navigator.clipboard) return;
  var button = document.createElement('button');
  button.type = 'button';
  button.className = 'secondary small-button';
  button.textContent = 'Copy';
  button.addEventListener('click', function () {
    navigator.clipboard.writeText(secret.textContent.trim()).then(
      function () { button.textContent = 'Copied'; },
      function () { button.textContent = 'Select it and copy'; }
    );
  });
  secret.insertAdjacentElement('afterend', button);
})();
