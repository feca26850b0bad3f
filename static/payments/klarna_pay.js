/* The Klarna widget page (payments/templates/payments/klarna_pay.html): a file, not an
   inline script, so the Content-Security-Policy allows no inline script anywhere. */
(function () {
  "use strict";
  var clientToken = JSON.parse(document.getElementById("klarna-client-token").textContent);
  Klarna.Payments.init({ client_token: clientToken });
  Klarna.Payments.load({ container: "#klarna-container" }, {}, function () {});
  document.getElementById("klarna-pay").addEventListener("click", function () {
    Klarna.Payments.authorize({}, {}, function (result) {
      // The token goes straight to our server, which turns it into an order; it is never stored.
      if (result.approved && result.authorization_token) {
        document.getElementById("authorization_token").value = result.authorization_token;
        document.getElementById("klarna-form").submit();
      }
    });
  });
})();
