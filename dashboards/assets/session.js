/* When the session has ended (signed out elsewhere, password changed), Dash requests get 401:
   go back to the sign-in page instead of leaving a page that silently stops updating. */
(function () {
  var originalFetch = window.fetch;
  if (!originalFetch) { return; }
  window.fetch = function () {
    return originalFetch.apply(this, arguments).then(function (response) {
      if (response.status === 401 && response.url.indexOf("/_dash-") !== -1) {
        var here = window.location.pathname + window.location.search;
        window.location.assign("/connexion?suivant=" + encodeURIComponent(here));
      }
      return response;
    });
  };
})();
