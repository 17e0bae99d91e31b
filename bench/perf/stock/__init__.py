"""A stock Django REST framework build of the same API, the benchmark's point of comparison.

Same models, same database, same auth class, same server; everything else is what a plain DRF
project would write: ModelViewSet, ModelSerializer, django-filter's DjangoFilterBackend with
simple declarations, PageNumberPagination (page/limit), DRF's own renderer, parser and
exception handler, Django's default middleware.
"""
